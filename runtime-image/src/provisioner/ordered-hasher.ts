/**
 * SHA-256 of a file whose byte ranges arrive out of order, with each byte hashed exactly once.
 *
 * SHA-256 is a chain: it cannot hash ranges in parallel and combine them. Two ways out: re-read the
 * whole file at the end (a second pass over every byte: with the hash at ~1.5 GB/s and the disk or
 * network in the same range, that roughly doubles the tail of a 25 GB download), or hash in order as
 * the prefix grows. We do the second. Bytes that arrive exactly at the hashed prefix (all bytes of a
 * single stream, and the leading range of a parallel download) are hashed from memory as they arrive;
 * bytes that arrived ahead of the prefix are already written, so they are read back once the prefix
 * reaches them, while still in the page cache. Resumed bytes from an earlier run are read back the
 * same way. The digest is ready when the last byte lands, so there is no trailing verification pass.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

const READ_BACK_BYTES = 4 * 1024 * 1024;

/** Hashes a file in order while its ranges are being written, possibly out of order. */
export class OrderedHasher {
  readonly #hash = createHash('sha256');
  readonly #file: FileHandle;
  readonly #frontier: () => number;
  #hashed = 0;
  #pumping: Promise<void> | undefined;
  #error: unknown;
  #readBuffer: Buffer | undefined;

  /**
   * @param file the file being written, open for reading.
   * @param frontier returns how many bytes from offset 0 are written contiguously (safe to read back).
   */
  constructor(file: FileHandle, frontier: () => number) {
    this.#file = file;
    this.#frontier = frontier;
  }

  /** Bytes hashed so far (always a prefix of the file). */
  get hashed(): number {
    return this.#hashed;
  }

  /**
   * Offers a chunk that is about to be written at `position`. It is hashed now when it is the next byte
   * in order; otherwise it is skipped here and read back later by `pump`.
   */
  offer(position: number, chunk: Buffer): void {
    if (this.#pumping === undefined && position === this.#hashed) {
      this.#hash.update(chunk);
      this.#hashed += chunk.length;
    }
  }

  /**
   * Reads back and hashes written bytes that the live path skipped, up to the frontier. Call it after
   * each write; concurrent calls share one loop. Never rejects: an error is kept for `digest`.
   */
  pump(): Promise<void> {
    if (this.#pumping === undefined && this.#error === undefined && this.#hashed < this.#frontier()) {
      this.#pumping = this.#readBack()
        .catch((err: unknown) => {
          this.#error = err;
        })
        .finally(() => {
          this.#pumping = undefined;
        });
    }
    return this.#pumping ?? Promise.resolve();
  }

  /** Waits for the read-back to reach `size` and returns the lowercase hex digest. */
  async digest(size: number): Promise<string> {
    while (this.#pumping !== undefined) await this.#pumping;
    await this.pump();
    if (this.#error !== undefined) throw this.#error;
    if (this.#hashed !== size) {
      throw new Error(`Hashed ${this.#hashed} bytes but the file has ${size}: some range was never written`);
    }
    return this.#hash.digest('hex');
  }

  async #readBack(): Promise<void> {
    this.#readBuffer ??= Buffer.allocUnsafe(READ_BACK_BYTES);
    for (let end = this.#frontier(); this.#hashed < end; end = this.#frontier()) {
      const length = Math.min(this.#readBuffer.length, end - this.#hashed);
      const { bytesRead } = await this.#file.read(this.#readBuffer, 0, length, this.#hashed);
      if (bytesRead === 0)
        throw new Error(`Read back 0 bytes at offset ${this.#hashed}: the file is shorter than written`);
      this.#hash.update(this.#readBuffer.subarray(0, bytesRead));
      this.#hashed += bytesRead;
    }
  }
}
