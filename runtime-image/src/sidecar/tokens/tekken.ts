/**
 * The Tekken tokenizer (Mistral's tiktoken-style byte-level BPE) read from a `tekken.json` file.
 *
 * Hand-written because no npm package reads Tekken files: `tiktoken` (WASM) and `js-tiktoken`
 * want a ranks file in their own format, and `js-tiktoken` would still need the `\s` rewrite
 * below. The merge loop is short; what matters is that it gives the same ids as tiktoken, which
 * test/sidecar-limits/token-oracle.test.ts checks against mistral-common on a 200+ request corpus.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const tekkenFileSchema = z.object({
  config: z.object({
    pattern: z.string(),
    default_vocab_size: z.number().int().positive(),
    default_num_special_tokens: z.number().int().nonnegative(),
  }),
  vocab: z.array(z.object({ rank: z.number().int().nonnegative(), token_bytes: z.string() })),
  // Newer files call it `image`, older copies (and likely the model repo's) `multimodal`.
  image: z
    .object({ image_patch_size: z.number().int().positive(), max_image_size: z.number().int().positive() })
    .optional(),
  multimodal: z
    .object({ image_patch_size: z.number().int().positive(), max_image_size: z.number().int().positive() })
    .optional(),
});

/** Pixtral's image settings from the tokenizer file. */
export interface ImageTokenConfig {
  /** Side of one patch in pixels (16 for Pixtral-12B-2409). */
  patchSize: number;
  /** The longest side an image is scaled down to (1024 for Pixtral-12B-2409). */
  maxImageSize: number;
}

/**
 * Unicode White_Space, the meaning of `\s` in tiktoken's Rust regex (fancy-regex) and Python's
 * `regex`. JS `\s` differs: it leaves out U+0085 and adds U+FEFF, which would split text differently.
 */
const WHITE_SPACE = '\\t\\n\\x0B\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/** Rewrites the file's pre-tokenizer pattern into a JS RegExp with Rust's `\s`/`\S` meaning. */
export function tekkenPattern(pattern: string): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      i++;
      if (next === 's') out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (next === 'S') {
        if (inClass)
          throw new Error('Tekken pattern has \\S inside a character class, which this port does not handle');
        out += `[^${WHITE_SPACE}]`;
      } else out += `\\${next ?? ''}`;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return new RegExp(out, 'gu');
}

/** A loaded Tekken tokenizer: text to token ids, without special-token parsing (as mistral-common). */
export class Tekkenizer {
  /** Ids below this are special tokens; a text token's id is its BPE rank plus this. */
  readonly numSpecialTokens: number;
  /** Image settings, when the file has them. */
  readonly image: ImageTokenConfig | undefined;
  readonly #ranks: Map<string, number>;
  readonly #pattern: RegExp;
  readonly #cache = new Map<string, number[]>();
  readonly #maxCacheEntries: number;
  // Whole-text counts of short texts: system prompts and templated user turns repeat across
  // requests, and a hit skips the pre-tokenizer regex, which is most of a short text's cost.
  readonly #counts = new Map<string, number>();

  /** Builds a tokenizer from the parsed JSON of a tekken file; throws on a malformed file. */
  constructor(json: unknown, options: { maxCacheEntries?: number } = {}) {
    const file = tekkenFileSchema.parse(json);
    this.numSpecialTokens = file.config.default_num_special_tokens;
    const image = file.image ?? file.multimodal;
    this.image = image && { patchSize: image.image_patch_size, maxImageSize: image.max_image_size };
    this.#pattern = tekkenPattern(file.config.pattern);
    this.#maxCacheEntries = options.maxCacheEntries ?? 200_000;
    // Only the first vocab_size - num_special entries take part in merges (mistral-common's
    // _reload_mergeable_ranks cuts the list there); using more would change the encodings.
    const inner = file.config.default_vocab_size - file.config.default_num_special_tokens;
    this.#ranks = new Map();
    for (let i = 0; i < inner && i < file.vocab.length; i++) {
      const entry = file.vocab[i];
      if (entry === undefined) break;
      this.#ranks.set(Buffer.from(entry.token_bytes, 'base64').toString('latin1'), entry.rank);
    }
    for (let b = 0; b < 256; b++) {
      if (this.#ranks.get(String.fromCharCode(b)) !== b)
        throw new Error(`Tekken file: rank ${b} is not byte ${b}`);
    }
  }

  /** Token ids of `text` (no BOS/EOS), exactly as `Tekkenizer.encode(text, bos=False, eos=False)`. */
  encode(text: string): number[] {
    const ids: number[] = [];
    // tiktoken turns lone surrogates into U+FFFD before splitting; toWellFormed does the same.
    for (const match of text.toWellFormed().matchAll(this.#pattern)) {
      for (const rank of this.#pieceRanks(match[0])) ids.push(rank + this.numSpecialTokens);
    }
    return ids;
  }

  /** Number of tokens of `text`; the same as `encode(text).length`, without building the array. */
  count(text: string): number {
    const short = text.length <= COUNT_CACHE_MAX_CHARS;
    if (short) {
      const cached = this.#counts.get(text);
      if (cached !== undefined) return cached;
    }
    let n = 0;
    for (const match of text.toWellFormed().matchAll(this.#pattern)) n += this.#pieceRanks(match[0]).length;
    if (short) {
      if (this.#counts.size >= COUNT_CACHE_ENTRIES) this.#counts.clear();
      this.#counts.set(text, n);
    }
    return n;
  }

  #pieceRanks(piece: string): number[] {
    const cached = this.#cache.get(piece);
    if (cached) return cached;
    const ranks = bytePairEncode(Buffer.from(piece, 'utf8'), this.#ranks);
    if (this.#cache.size >= this.#maxCacheEntries) this.#cache.clear();
    this.#cache.set(piece, ranks);
    return ranks;
  }
}

/** Texts up to this many UTF-16 units have their whole count cached (at most 2 MiB of keys). */
const COUNT_CACHE_MAX_CHARS = 512;
/** Entries of the whole-text count cache; it is cleared when full (cheaper than an LRU). */
const COUNT_CACHE_ENTRIES = 2_048;

/**
 * tiktoken's byte-pair merge: repeatedly merge the adjacent pair whose bytes have the lowest
 * rank (leftmost on ties) until none is in the vocabulary. A heap with lazy invalidation makes it
 * O(n log n), where tiktoken's loop is O(n²): a 100 kB run of spaces is one piece.
 */
function bytePairEncode(bytes: Buffer, ranks: Map<string, number>): number[] {
  const n = bytes.length;
  if (n === 0) return [];
  const whole = ranks.get(bytes.toString('latin1'));
  if (whole !== undefined) return [whole];
  if (n <= SMALL_PIECE) return smallBytePairEncode(bytes, ranks);
  // Node i covers bytes[start[i] .. start[next[i]]); next = n means the end.
  const start = new Int32Array(n);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const version = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    start[i] = i;
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  const end = (i: number): number => (next[i] === n ? n : (start[next[i] as number] as number));
  const heap = new PairHeap();
  const pushPair = (i: number): void => {
    const j = next[i] as number;
    if (j >= n) return;
    const rank = ranks.get(bytes.toString('latin1', start[i], end(j)));
    if (rank !== undefined) heap.push(rank, start[i] as number, i, version[i] as number);
  };
  for (let i = 0; i < n - 1; i++) pushPair(i);
  for (let top = heap.pop(); top !== undefined; top = heap.pop()) {
    const i = top.node;
    if (!alive[i] || version[i] !== top.version) continue;
    const j = next[i] as number;
    alive[j] = 0;
    next[i] = next[j] as number;
    if ((next[j] as number) < n) prev[next[j] as number] = i;
    version[i] = (version[i] as number) + 1;
    pushPair(i);
    const p = prev[i] as number;
    if (p >= 0) {
      version[p] = (version[p] as number) + 1;
      pushPair(p);
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i = next[i] as number) {
    const rank = ranks.get(bytes.toString('latin1', start[i], end(i)));
    if (rank === undefined) throw new Error('Tekken BPE: a part is not in the vocabulary');
    out.push(rank);
  }
  return out;
}

/** Pieces up to this many bytes use the plain loop: no heap, fewer allocations. */
const SMALL_PIECE = 48;

/** tiktoken's own O(n²) loop, faster than the heap on the short pieces that make most text. */
function smallBytePairEncode(bytes: Buffer, ranks: Map<string, number>): number[] {
  const text = bytes.toString('latin1'); // one char per byte, so slices are byte ranges
  const starts: number[] = [];
  for (let i = 0; i <= text.length; i++) starts.push(i);
  const pairRank = (i: number): number =>
    i + 2 < starts.length ? (ranks.get(text.slice(starts[i], starts[i + 2])) ?? Infinity) : Infinity;
  const pr: number[] = [];
  for (let i = 0; i < starts.length - 1; i++) pr.push(pairRank(i));
  for (;;) {
    let min = Infinity;
    let at = -1;
    for (let i = 0; i < pr.length - 1; i++) {
      if ((pr[i] as number) < min) {
        min = pr[i] as number;
        at = i;
      }
    }
    if (at < 0) break;
    starts.splice(at + 1, 1);
    pr.splice(at + 1, 1);
    pr[at] = pairRank(at);
    if (at > 0) pr[at - 1] = pairRank(at - 1);
  }
  const out: number[] = [];
  for (let i = 0; i + 1 < starts.length; i++)
    out.push(ranks.get(text.slice(starts[i], starts[i + 1])) as number);
  return out;
}

/** A binary min-heap of candidate merges ordered by (rank, byte position). */
class PairHeap {
  readonly #items: { rank: number; pos: number; node: number; version: number }[] = [];

  push(rank: number, pos: number, node: number, version: number): void {
    const a = this.#items;
    a.push({ rank, pos, node, version });
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(a[i], a[parent])) break;
      swap(a, i, parent);
      i = parent;
    }
  }

  pop(): { rank: number; pos: number; node: number; version: number } | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l], a[m])) m = l;
        if (r < a.length && less(a[r], a[m])) m = r;
        if (m === i) break;
        swap(a, i, m);
        i = m;
      }
    }
    return top;
  }
}

type HeapItem = { rank: number; pos: number } | undefined;
function less(x: HeapItem, y: HeapItem): boolean {
  if (x === undefined || y === undefined) return false;
  return x.rank < y.rank || (x.rank === y.rank && x.pos < y.pos);
}
function swap<T>(a: T[], i: number, j: number): void {
  const t = a[i] as T;
  a[i] = a[j] as T;
  a[j] = t;
}

/** Reads and parses a tekken.json file (for Pixtral: WEIGHTS_DIR/tekken.json). */
export async function loadTekkenizer(path: string): Promise<Tekkenizer> {
  return new Tekkenizer(JSON.parse(await readFile(path, 'utf8')));
}
