/**
 * The Tekken tokenizer (Mistral's tiktoken-style byte-level BPE) read from a `tekken.json` file.
 *
 * Hand-written because no npm package reads Tekken files: `tiktoken` (WASM) and `js-tiktoken`
 * want a ranks file in their own format, and `js-tiktoken` would still need the `\s` rewrite
 * below. The merge loop is short; what matters is that it gives the same ids as tiktoken, which
 * test/sidecar-limits/token-oracle.test.ts checks against mistral-common on a 200+ request corpus.
 */
import { readFile } from 'node:fs/promises';
import { parseTekkenFile, type TekkenFile } from './tekken-file.ts';
import { ByteRanks, type ByteRanksData } from './vocab-ranks.ts';

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

/**
 * Yields to the event loop from long counts: `due()` says when the current slice of work is
 * spent, `pause()` lets other callbacks (health probes, other requests) run before the next.
 */
export interface Pacer {
  due(): boolean;
  pause(): Promise<void>;
}

/** A pacer that gives the event loop a turn after every `sliceMs` of work. */
export function slicePacer(sliceMs = 5): Pacer {
  let sliceEnd = performance.now() + sliceMs;
  return {
    due: () => performance.now() >= sliceEnd,
    pause: () =>
      new Promise<void>((resolve) =>
        setImmediate(() => {
          sliceEnd = performance.now() + sliceMs;
          resolve();
        }),
      ),
  };
}

/** Long texts are matched by the pre-tokenizer this many UTF-16 units at a time. */
const WINDOW_CHARS = 64 * 1024;

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** Pieces up to this many bytes are merged whole (at most ~15 ms); longer ones in chunks. */
const EXACT_PIECE_BYTES = 16 * 1024;
/** The chunk size of longer pieces. */
const CHUNK_BYTES = 4 * 1024;

/** A tokenizer's settings and vocabulary, as they cross to a worker thread (tokens/count-worker.ts). */
export interface TekkenizerData {
  pattern: string;
  numSpecialTokens: number;
  image: ImageTokenConfig | undefined;
  ranks: ByteRanksData;
}

/** A loaded Tekken tokenizer: text to token ids, without special-token parsing (as mistral-common). */
export class Tekkenizer {
  /** Ids below this are special tokens; a text token's id is its BPE rank plus this. */
  readonly numSpecialTokens: number;
  /** Image settings, when the file has them. */
  readonly image: ImageTokenConfig | undefined;
  readonly #ranks: ByteRanks;
  readonly #patternSource: string;
  readonly #pattern: RegExp;
  // Short pieces' ranks: words repeat across and within texts. Bounded in bytes, and pieces
  // longer than CACHED_PIECE_CHARS are never kept, so distinct inputs cannot grow it past
  // the bound (it is cleared when full, which is cheaper than an LRU).
  readonly #cache = new Map<string, number[]>();
  #cacheBytes = 0;
  readonly #maxCacheBytes: number;
  // Whole-text counts of short texts: system prompts and templated user turns repeat across
  // requests, and a hit skips the pre-tokenizer regex, which is most of a short text's cost.
  readonly #counts = new Map<string, number>();

  /**
   * Builds a tokenizer from the bytes of a tekken file (throws on a malformed file), or from the
   * file as read already.
   */
  constructor(file: Buffer | TekkenFile, options: { maxCacheBytes?: number } = {}) {
    const parsed = Buffer.isBuffer(file) ? parseTekkenFile(file) : file;
    this.numSpecialTokens = parsed.numSpecialTokens;
    this.image = parsed.image;
    this.#patternSource = parsed.pattern;
    this.#pattern = tekkenPattern(parsed.pattern);
    this.#ranks = parsed.ranks;
    this.#maxCacheBytes = options.maxCacheBytes ?? 8 * 1024 * 1024;
  }

  /** What another thread needs to build the same tokenizer with `fromData` (caches not included). */
  toData(): TekkenizerData {
    return {
      pattern: this.#patternSource,
      numSpecialTokens: this.numSpecialTokens,
      image: this.image,
      ranks: this.#ranks.toData(),
    };
  }

  /** The tokenizer `toData` describes. */
  static fromData(data: TekkenizerData, options: { maxCacheBytes?: number } = {}): Tekkenizer {
    return new Tekkenizer({ ...data, ranks: ByteRanks.fromData(data.ranks) }, options);
  }

  /** The longest token in bytes: a text of n UTF-16 units has at least n / longestToken tokens. */
  get longestToken(): number {
    return this.#longest();
  }

  /** Bytes the piece cache holds (an estimate: keys, rank arrays and map entries). */
  get cacheBytes(): number {
    return this.#cacheBytes;
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

  /**
   * The token count of `text` when it is at most `limit`; otherwise some number above `limit`
   * (at most a chunk's worth), found without counting the rest. Gives the event loop a turn
   * whenever `pacer` says so. Exact except for pieces over EXACT_PIECE_BYTES (#countLongPiece).
   */
  countUpTo(text: string, limit: number, pacer: Pacer): number | Promise<number> {
    // Short texts (nearly all) are counted at once: no promise, no turn given.
    if (text.length <= COUNT_CACHE_MAX_CHARS) return this.count(text);
    return this.#countLongText(text, limit, pacer);
  }

  /**
   * Matches the pre-tokenizer over windows of WINDOW_CHARS: one regex match over an unbroken
   * 4 MB run would hold the event loop for most of a second, and could not stop at the limit. A
   * piece that reaches a window's end may go on past it, so it is matched again at the start of
   * the next window, which gives the same pieces as one pass over the whole text, except for a
   * piece that fills a whole window: that one is counted in parts (see #countLongPiece).
   */
  async #countLongText(text: string, limit: number, pacer: Pacer): Promise<number> {
    const whole = text.toWellFormed();
    let n = 0;
    for (let pos = 0; pos < whole.length; ) {
      let end = Math.min(whole.length, pos + WINDOW_CHARS);
      // Never cut a surrogate pair.
      if (end < whole.length && isHighSurrogate(whole.charCodeAt(end - 1))) end--;
      const window = whole.slice(pos, end);
      let next = end;
      for (const match of window.matchAll(this.#pattern)) {
        const piece = match[0];
        const at = match.index;
        if (end < whole.length && at + piece.length === window.length && at > 0) {
          next = pos + at;
          break;
        }
        if (piece.length <= CACHED_PIECE_CHARS) n += this.#pieceRanks(piece).length;
        else n += await this.#countLongPiece(piece, limit - n, pacer);
        if (n > limit) return n;
        if (pacer.due()) await pacer.pause();
      }
      pos = next;
    }
    return n;
  }

  /**
   * Counts one long piece. Up to EXACT_PIECE_BYTES exactly; longer ones (never natural text: an
   * unbroken run of 16 KB of letters or symbols) in chunks of CHUNK_BYTES with a turn for the event
   * loop between chunks, since the whole piece's merge would block it for seconds. A chunk border
   * can change the count by a token or so, so such a count is close rather than exact.
   */
  async #countLongPiece(piece: string, limit: number, pacer: Pacer): Promise<number> {
    const bytes = Buffer.from(piece, 'utf8');
    if (bytes.length <= EXACT_PIECE_BYTES) return bytePairEncode(bytes, this.#ranks).length;
    // No token covers more bytes than the longest one: a bound that may settle it at once.
    const atLeast = Math.ceil(bytes.length / this.#longest());
    if (atLeast > limit) return atLeast;
    let n = 0;
    for (let at = 0; at < bytes.length; at += CHUNK_BYTES) {
      n += bytePairEncode(bytes.subarray(at, at + CHUNK_BYTES), this.#ranks).length;
      if (n > limit) return n;
      if (pacer.due()) await pacer.pause();
    }
    return n;
  }

  #longestBytes = 0;
  #longest(): number {
    if (this.#longestBytes === 0) this.#longestBytes = this.#ranks.longestToken;
    return this.#longestBytes;
  }

  #pieceRanks(piece: string): number[] {
    const cached = this.#cache.get(piece);
    if (cached) return cached;
    const ranks = bytePairEncode(Buffer.from(piece, 'utf8'), this.#ranks);
    if (piece.length <= CACHED_PIECE_CHARS) {
      const bytes = ENTRY_OVERHEAD + piece.length * 2 + ranks.length * 8;
      if (this.#cacheBytes + bytes > this.#maxCacheBytes) {
        this.#cache.clear();
        this.#cacheBytes = 0;
      }
      this.#cache.set(piece, ranks);
      this.#cacheBytes += bytes;
    }
    return ranks;
  }
}

/** Pieces up to this many UTF-16 units are cached: words, numbers, punctuation runs. */
const CACHED_PIECE_CHARS = 32;
/** A cache entry's bytes besides its key's characters and its ranks: map slot, string and array headers. */
const ENTRY_OVERHEAD = 96;
/** Texts up to this many UTF-16 units have their whole count cached (at most 2 MiB of keys). */
const COUNT_CACHE_MAX_CHARS = 512;
/** Entries of the whole-text count cache; it is cleared when full (cheaper than an LRU). */
const COUNT_CACHE_ENTRIES = 2_048;

/**
 * tiktoken's byte-pair merge: repeatedly merge the adjacent pair whose bytes have the lowest
 * rank (leftmost on ties) until none is in the vocabulary. A heap with lazy invalidation makes it
 * O(n log n), where tiktoken's loop is O(n²): a 100 kB run of spaces is one piece.
 */
function bytePairEncode(bytes: Uint8Array, ranks: ByteRanks): number[] {
  const n = bytes.length;
  if (n === 0) return [];
  const whole = ranks.get(bytes, 0, n);
  if (whole !== -1) return [whole];
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
    const rank = ranks.get(bytes, start[i] as number, end(j));
    if (rank !== -1) heap.push(rank, start[i] as number, i, version[i] as number);
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
    const rank = ranks.get(bytes, start[i] as number, end(i));
    if (rank === -1) throw new Error('Tekken BPE: a part is not in the vocabulary');
    out.push(rank);
  }
  return out;
}

/** Pieces up to this many bytes use the plain loop: no heap, fewer allocations. */
const SMALL_PIECE = 48;

/** tiktoken's own O(n²) loop, faster than the heap on the short pieces that make most text. */
function smallBytePairEncode(bytes: Uint8Array, ranks: ByteRanks): number[] {
  const starts: number[] = [];
  for (let i = 0; i <= bytes.length; i++) starts.push(i);
  const pairRank = (i: number): number => {
    if (i + 2 >= starts.length) return Infinity;
    const rank = ranks.get(bytes, starts[i] as number, starts[i + 2] as number);
    return rank === -1 ? Infinity : rank;
  };
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
    out.push(ranks.get(bytes, starts[i] as number, starts[i + 1] as number));
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

/** Reads a tekken.json file (for Pixtral: WEIGHTS_DIR/tekken.json). */
export async function loadTekkenizer(path: string): Promise<Tekkenizer> {
  return new Tekkenizer(await readFile(path));
}
