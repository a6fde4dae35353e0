/**
 * Reads a `tekken.json` file into the compact form the tokenizer keeps: the settings, and the
 * vocabulary as one byte table (vocab-ranks.ts).
 *
 * The file is 19 MB of JSON whose `vocab` array holds 150,000 objects. `JSON.parse` of it built
 * those objects and their strings (about 70 MB of heap at the peak, and the process kept ~100 MB
 * more RSS for good after the garbage was collected), for a table that needs 2 MB. So the vocab
 * array is read straight from the file's bytes, and only the rest of the file (the settings) goes
 * through `JSON.parse` and zod. Hand-written for that reason: no JSON library reads one array of
 * a document without materializing it.
 */
import { z } from 'zod';
import { ByteRanks } from './vocab-ranks.ts';

const imageSettings = z.object({
  image_patch_size: z.number().int().positive(),
  max_image_size: z.number().int().positive(),
});

const tekkenHeadSchema = z.object({
  config: z.object({
    pattern: z.string(),
    default_vocab_size: z.number().int().positive(),
    default_num_special_tokens: z.number().int().nonnegative(),
  }),
  // Newer files call it `image`, older copies (and likely the model repo's) `multimodal`.
  image: imageSettings.optional(),
  multimodal: imageSettings.optional(),
});

/** A tekken file, read. */
export interface TekkenFile {
  pattern: string;
  numSpecialTokens: number;
  image: { patchSize: number; maxImageSize: number } | undefined;
  /** The BPE ranks of the first `vocab_size - num_special` entries, the ones merges use. */
  ranks: ByteRanks;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The index just past the JSON string starting at `at` (a quote). */
function skipString(bytes: Buffer, at: number): number {
  for (let i = at + 1; ; ) {
    const close = bytes.indexOf(QUOTE, i);
    if (close === -1) throw new Error('Tekken file: unterminated string');
    let slashes = 0;
    for (let k = close - 1; bytes[k] === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return close + 1;
    i = close + 1;
  }
}

/** The index just past the array or object starting at `at`. */
function skipContainer(bytes: Buffer, at: number): number {
  let depth = 0;
  for (let i = at; i < bytes.length; ) {
    const b = bytes[i];
    if (b === QUOTE) {
      i = skipString(bytes, i);
      continue;
    }
    if (b === 0x5b || b === 0x7b) depth++;
    else if (b === 0x5d || b === 0x7d) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  throw new Error('Tekken file: unterminated array or object');
}

/** Where the top-level `"vocab": [...]` array starts and ends, or undefined. */
function findVocab(bytes: Buffer): { start: number; end: number } | undefined {
  let i = bytes.indexOf(0x7b); // the top-level object
  if (i === -1) return undefined;
  i++;
  for (;;) {
    while (i < bytes.length && bytes[i] !== QUOTE && bytes[i] !== 0x7d) i++;
    if (i >= bytes.length || bytes[i] === 0x7d) return undefined;
    const keyEnd = skipString(bytes, i);
    const key = bytes.toString('utf8', i + 1, keyEnd - 1);
    i = bytes.indexOf(0x3a, keyEnd) + 1; // the colon
    while (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09) i++;
    const start = i;
    const b = bytes[i];
    if (b === QUOTE) i = skipString(bytes, i);
    else if (b === 0x5b || b === 0x7b) i = skipContainer(bytes, i);
    else while (i < bytes.length && bytes[i] !== 0x2c && bytes[i] !== 0x7d) i++;
    if (key === 'vocab') {
      if (b !== 0x5b) throw new Error('Tekken file: vocab is not an array');
      return { start, end: i };
    }
    while (i < bytes.length && bytes[i] !== 0x2c && bytes[i] !== 0x7d) i++;
    if (bytes[i] === 0x7d) return undefined;
    i++;
  }
}

const RANK_KEY = Buffer.from('"rank"');
const BYTES_KEY = Buffer.from('"token_bytes"');

/** The non-negative integer at `at` (after optional spaces), or -1. */
function readInteger(bytes: Buffer, at: number): number {
  let i = at;
  while (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09) i++;
  let value = -1;
  for (let b = bytes[i] as number; b >= 0x30 && b <= 0x39; b = bytes[++i] as number) {
    value = (value < 0 ? 0 : value * 10) + (b - 0x30);
  }
  return value;
}

const BASE64_VALUE = new Int8Array(256).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) {
  BASE64_VALUE[c.charCodeAt(0)] = i;
}

/** Decodes base64 `src[start..end)` into `out` at `at`; returns the bytes written, or -1 if invalid. */
function decodeBase64(src: Buffer, start: number, end: number, out: Buffer, at: number): number {
  let bits = 0;
  let buffered = 0;
  let n = at;
  for (let i = start; i < end; i++) {
    const c = src[i] as number;
    if (c === 0x3d) break; // '=' padding
    const v = BASE64_VALUE[c] as number;
    if (v < 0) return -1;
    bits = (bits << 6) | v;
    buffered += 6;
    if (buffered >= 8) {
      buffered -= 8;
      out[n++] = (bits >> buffered) & 0xff;
    }
  }
  return n - at;
}

/** Parses the bytes of a tekken.json file; throws an Error naming what is wrong. */
export function parseTekkenFile(bytes: Buffer): TekkenFile {
  const span = findVocab(bytes);
  if (span === undefined) throw new Error('Tekken file: no vocab array');
  const head = tekkenHeadSchema.parse(
    JSON.parse(`${bytes.toString('utf8', 0, span.start)}[]${bytes.toString('utf8', span.end)}`),
  );
  // Only the first vocab_size - num_special entries take part in merges (mistral-common's
  // _reload_mergeable_ranks cuts the list there); using more would change the encodings.
  const inner = head.config.default_vocab_size - head.config.default_num_special_tokens;
  let tokens = Buffer.allocUnsafe(1024 * 1024);
  const offsets = new Int32Array(inner + 1);
  const ranks = new Int32Array(inner);
  let count = 0;
  let used = 0;
  for (let i = span.start + 1; count < inner; ) {
    while (i < span.end && bytes[i] !== 0x7b && bytes[i] !== 0x5d) i++;
    if (i >= span.end || bytes[i] === 0x5d) break;
    const end = skipContainer(bytes, i);
    const rankAt = bytes.indexOf(RANK_KEY, i);
    const bytesAt = bytes.indexOf(BYTES_KEY, i);
    if (rankAt === -1 || rankAt > end || bytesAt === -1 || bytesAt > end) {
      throw new Error(`Tekken file: vocab entry ${count} lacks rank or token_bytes`);
    }
    const rank = readInteger(bytes, bytes.indexOf(0x3a, rankAt + RANK_KEY.length) + 1);
    const open = bytes.indexOf(QUOTE, bytesAt + BYTES_KEY.length);
    const close = bytes.indexOf(QUOTE, open + 1);
    if (rank < 0 || open === -1 || close > end)
      throw new Error(`Tekken file: vocab entry ${count} is malformed`);
    if (used + close - open > tokens.length) {
      const grown = Buffer.allocUnsafe(tokens.length * 2);
      tokens.copy(grown, 0, 0, used);
      tokens = grown;
    }
    ranks[count] = rank;
    offsets[count] = used;
    // Decoded from the file's bytes in place: a string per entry would leave 130,000 of them
    // for the garbage collector and the heap grown by their size.
    const written = decodeBase64(bytes, open + 1, close, tokens, used);
    if (written < 0) throw new Error(`Tekken file: vocab entry ${count} has invalid base64`);
    used += written;
    count++;
    i = end;
  }
  offsets[count] = used;
  const table = ByteRanks.build(
    Buffer.from(tokens.subarray(0, used)),
    offsets.subarray(0, count + 1),
    ranks.subarray(0, count),
  );
  for (let b = 0; b < 256; b++) {
    if (table.get(Buffer.of(b), 0, 1) !== b) throw new Error(`Tekken file: rank ${b} is not byte ${b}`);
  }
  const image = head.image ?? head.multimodal;
  return {
    pattern: head.config.pattern,
    numSpecialTokens: head.config.default_num_special_tokens,
    image: image && { patchSize: image.image_patch_size, maxImageSize: image.max_image_size },
    ranks: table,
  };
}
