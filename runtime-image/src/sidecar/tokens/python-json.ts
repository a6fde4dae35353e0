/**
 * JSON as Python's `json` module writes it, for the token count of tool calls, tool results and
 * tool definitions: mistral-common puts `json.dumps(value, ensure_ascii=False)` of them into the
 * prompt, so the text we count must be the same byte for byte.
 *
 * `JSON.parse` + `JSON.stringify` cannot do this: Python separates with ", " and ": ", keeps
 * `1.0` a float (JS has no int/float distinction), writes floats as `repr` does (`1e-07`,
 * `1e+16`), keeps integers of any size exact, accepts `NaN` and `Infinity`, and keeps object keys
 * in document order (a JS object moves integer-like keys first). No npm package reproduces
 * Python's output, hence this small hand-written re-serializer over the raw text.
 */

/** Thrown (internally) when Python's `json.loads` would refuse the text. */
class NotJson extends Error {}

/** Deeper documents are treated as not JSON (Python would stop at its recursion limit too). */
const MAX_DEPTH = 512;

/**
 * `json.dumps(json.loads(text), ensure_ascii=False)`, or undefined when Python's `json.loads`
 * refuses the text.
 */
export function pythonJsonNormalize(text: string): string | undefined {
  const parser = new Parser(text);
  try {
    parser.skipWhitespace();
    const out = parser.value(0);
    parser.skipWhitespace();
    if (parser.pos !== text.length) return undefined;
    return out;
  } catch (err) {
    if (err instanceof NotJson) return undefined;
    throw err;
  }
}

/** `json.dumps(value, ensure_ascii=False)` of a value that came from JS's `JSON.parse`. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isInteger(value) ? integerText(value) : pythonFloatRepr(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  }
  throw new TypeError(`pythonJsonDumps: cannot serialize a ${typeof value}`);
}

/** A JS integer as Python writes an int (no exponent, however large). */
function integerText(value: number): string {
  return Math.abs(value) < 1e21 ? String(value === 0 ? 0 : value) : BigInt(value).toString();
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip, as repr does.
  const [mantissa, exp] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    const body = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    return `${sign}${body}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const whole = digits.slice(0, e + 1).padEnd(e + 1, '0');
  const fraction = digits.slice(e + 1);
  return `${sign}${whole}.${fraction === '' ? '0' : fraction}`;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
const STRING = /"(?:[^"\\]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;

/** A recursive-descent reader that writes Python's serialization as it reads. */
class Parser {
  pos = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  skipWhitespace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  value(depth: number): string {
    if (depth > MAX_DEPTH) throw new NotJson();
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return JSON.stringify(this.string());
    for (const [literal, out] of LITERALS) {
      if (this.text.startsWith(literal, this.pos)) {
        this.pos += literal.length;
        return out;
      }
    }
    return this.number();
  }

  private object(depth: number): string {
    this.pos++; // {
    // Python's dict keeps a repeated key at its first place with its last value; so does a Map.
    const members = new Map<string, string>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return '{}';
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') throw new NotJson();
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.pos++] !== ':') throw new NotJson();
      this.skipWhitespace();
      members.set(key, this.value(depth + 1));
      this.skipWhitespace();
      const next = this.text[this.pos++];
      if (next === '}') break;
      if (next !== ',') throw new NotJson();
    }
    return `{${[...members].map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`;
  }

  private array(depth: number): string {
    this.pos++; // [
    const items: string[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return '[]';
    }
    for (;;) {
      this.skipWhitespace();
      items.push(this.value(depth + 1));
      this.skipWhitespace();
      const next = this.text[this.pos++];
      if (next === ']') break;
      if (next !== ',') throw new NotJson();
    }
    return `[${items.join(', ')}]`;
  }

  private string(): string {
    STRING.lastIndex = this.pos;
    const match = STRING.exec(this.text);
    if (match === null) throw new NotJson();
    this.pos += match[0].length;
    try {
      // JSON.parse refuses raw control characters, as Python's strict json.loads does.
      return JSON.parse(match[0]) as string;
    } catch {
      throw new NotJson();
    }
  }

  private number(): string {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) throw new NotJson();
    this.pos += match[0].length;
    if (match[1] === undefined && match[2] === undefined) {
      // An int: exact at any size; "-0" is 0.
      return BigInt(match[0]).toString();
    }
    return pythonFloatRepr(Number(match[0]));
  }
}

const LITERALS: [string, string][] = [
  ['null', 'null'],
  ['true', 'true'],
  ['false', 'false'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['-Infinity', '-Infinity'],
];
