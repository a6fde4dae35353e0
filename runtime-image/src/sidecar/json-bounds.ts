/**
 * Bounds on a JSON document's structure, checked on the raw bytes before `JSON.parse` builds
 * anything. `JSON.parse` has no depth or size options and a parsed value costs far more than its
 * text (`[{},{},…]` is 3 bytes per object of 30-60 heap bytes), so a body under the size limit
 * could otherwise take the heap down; a deep one makes `JSON.stringify` throw a RangeError later.
 *
 * Hand-written: the streaming JSON parsers on npm (stream-json, clarinet, @streamparser/json)
 * build the same values at several times JSON.parse's cost, and none stops at a depth or value
 * count. A scan only has to follow strings and brackets, which is a few lines; `JSON.parse` still
 * decides whether the text is valid JSON.
 */
import { badRequest } from './errors.ts';

/** The structure limits of one request body. */
export interface JsonBounds {
  /** Deepest nesting of arrays and objects (MAX_JSON_DEPTH). */
  maxDepth: number;
  /** Most structural items outside strings: containers, keys and values (MAX_JSON_VALUES). */
  maxValues: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Throws a 400 naming the limit when `bytes` nests deeper than `maxDepth` or holds more than
 * `maxValues` items (each `{`, `[`, `,` and `:` outside strings counts one: an upper bound on the
 * number of values and keys). Malformed JSON is left for `JSON.parse` to refuse.
 */
export function checkJsonBounds(bytes: Uint8Array, bounds: JsonBounds): void {
  let depth = 0;
  let items = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === QUOTE) {
      // Jump to the closing quote with a native search: strings (base64 images above all)
      // are most of a large body's bytes.
      for (;;) {
        const close = bytes.indexOf(QUOTE, i + 1);
        if (close === -1) return; // unterminated: JSON.parse refuses it
        let slashes = 0;
        for (let k = close - 1; bytes[k] === BACKSLASH; k--) slashes++;
        i = close;
        if (slashes % 2 === 0) break;
      }
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > bounds.maxDepth) {
        throw badRequest(
          'json_too_deep',
          `The request body nests arrays and objects deeper than ${bounds.maxDepth} levels (the sidecar's MAX_JSON_DEPTH).`,
        );
      }
      items++;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    } else if (b === COMMA || b === COLON) {
      items++;
    } else {
      continue;
    }
    if (items > bounds.maxValues) {
      throw badRequest(
        'json_too_many_values',
        `The request body has more than ${bounds.maxValues} JSON values and keys (the sidecar's MAX_JSON_VALUES).`,
      );
    }
  }
}

/**
 * The path of the first string (value or key) holding a lone UTF-16 surrogate (a `\ud800`
 * escape without its pair), or undefined. Such a string has no UTF-8 form: vLLM would fail on
 * it or silently replace it, so it is refused here, naming the field. The path is only built
 * for a hit: the walk runs on every request.
 */
export function findLoneSurrogate(value: unknown): string | undefined {
  const path: (string | number)[] = [];
  return illFormedAt(value, path) ? formatPath(path) : undefined;
}

/** True when `value` holds an ill-formed string; `path` is left pointing at it. */
function illFormedAt(value: unknown, path: (string | number)[]): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      if (illFormedAt(value[i], path)) return true;
      path.pop();
    }
    return false;
  }
  for (const key in value) {
    path.push(key);
    if (!key.isWellFormed() || illFormedAt((value as Record<string, unknown>)[key], path)) return true;
    path.pop();
  }
  return false;
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? key : `.${key}`;
  return out || '(body)';
}
