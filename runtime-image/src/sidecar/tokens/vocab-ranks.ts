/**
 * The BPE vocabulary as a byte-keyed hash table: every token's bytes in one Buffer, and an
 * open-addressing table of typed arrays. It holds Pixtral's 130,072 ranks in about 2.5 MB, where
 * a `Map<string, number>` took about 10 MB of heap in 130,000 small objects; and a lookup reads
 * a byte range in place, so the merge loop allocates no string per candidate pair.
 */
/** A table's arrays, as they cross to a worker thread (structured clone copies them). */
export interface ByteRanksData {
  tokens: Uint8Array;
  offsets: Int32Array;
  ranks: Int32Array;
  slots: Int32Array;
}

export class ByteRanks {
  readonly #tokens: Buffer;
  readonly #offsets: Int32Array;
  readonly #ranks: Int32Array;
  /** Token index + 1 per slot, 0 for empty; the size is a power of two. */
  readonly #slots: Int32Array;
  readonly #mask: number;

  private constructor(tokens: Buffer, offsets: Int32Array, ranks: Int32Array, slots?: Int32Array) {
    this.#tokens = tokens;
    this.#offsets = offsets;
    this.#ranks = ranks;
    let size = 1;
    while (size < ranks.length * 2) size *= 2;
    this.#slots = slots ?? new Int32Array(size);
    this.#mask = this.#slots.length - 1;
  }

  /** The table's arrays, to rebuild it elsewhere with `fromData`. */
  toData(): ByteRanksData {
    return { tokens: this.#tokens, offsets: this.#offsets, ranks: this.#ranks, slots: this.#slots };
  }

  /** The table `toData` gave, without hashing the tokens again. */
  static fromData(data: ByteRanksData): ByteRanks {
    const { tokens } = data;
    return new ByteRanks(
      Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength),
      data.offsets,
      data.ranks,
      data.slots,
    );
  }

  /**
   * A table of `ranks.length` tokens: token i has the bytes `tokens[offsets[i] .. offsets[i+1])`
   * and the rank `ranks[i]`. A token seen twice keeps its first rank.
   */
  static build(tokens: Buffer, offsets: Int32Array, ranks: Int32Array): ByteRanks {
    const table = new ByteRanks(tokens, offsets, ranks);
    for (let i = 0; i < ranks.length; i++) table.#insert(i);
    return table;
  }

  /** Number of tokens. */
  get size(): number {
    return this.#ranks.length;
  }

  /** The longest token, in bytes: no token can cover more of a text than this. */
  get longestToken(): number {
    let longest = 0;
    for (let i = 0; i < this.#ranks.length; i++) {
      longest = Math.max(longest, (this.#offsets[i + 1] as number) - (this.#offsets[i] as number));
    }
    return longest;
  }

  /** The rank of the token whose bytes are `bytes[start .. end)`, or -1. */
  get(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    for (let slot = hash(bytes, start, end) & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = this.#slots[slot] as number;
      if (entry === 0) return -1;
      const token = entry - 1;
      const from = this.#offsets[token] as number;
      if ((this.#offsets[token + 1] as number) - from !== length) continue;
      let same = true;
      for (let k = 0; k < length; k++) {
        if (this.#tokens[from + k] !== bytes[start + k]) {
          same = false;
          break;
        }
      }
      if (same) return this.#ranks[token] as number;
    }
  }

  #insert(token: number): void {
    const from = this.#offsets[token] as number;
    const to = this.#offsets[token + 1] as number;
    if (this.get(this.#tokens, from, to) !== -1) return;
    let slot = hash(this.#tokens, from, to) & this.#mask;
    while ((this.#slots[slot] as number) !== 0) slot = (slot + 1) & this.#mask;
    this.#slots[slot] = token + 1;
  }
}

/** FNV-1a over a byte range. */
function hash(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}
