/**
 * SHA-256 of a file whose byte ranges arrive out of order, computed while it downloads.
 *
 * SHA-256 is a chain: ranges cannot be hashed in parallel and combined, so the hash follows the file
 * from offset 0. A received chunk that starts exactly where the hash stands is hashed straight from
 * memory on the main thread: with one connection (the usual case, segment-pool.ts) that is every
 * chunk, one pass over the bytes and no copy. Bytes that arrived ahead of the hash (another
 * connection's segment, or a resumed run's earlier bytes) are read back from the page cache once they
 * are written contiguously (the "frontier"). Measured with bench/provisioner.ts (1 GiB from 127.0.0.1,
 * busy 2-core machine): a worker thread that re-read every written byte cost a copy per byte, a
 * message per 16 MiB and a second thread competing with the server for the two cores; OpenSSL's
 * SHA-NI SHA-256 hashes ~0.9 GiB/s, so on the main thread the hash costs about as much as the re-read
 * alone did.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

const READ_BYTES = 4 * 1024 * 1024;
// Read-back per pump: a resumed 1 GiB prefix is hashed in slices so timers (lock refresh, progress)
// still run between them.
const PUMP_READ_BYTES = 64 * 1024 * 1024;

/** Hashes a file in order while its ranges are being written, possibly out of order. */
export class OrderedHasher {
  readonly #path: string;
  readonly #frontier: () => number;
  readonly #hash: Hash = createHash('sha256');
  #hashed = 0;
  #buffer: Buffer | undefined;
  #scheduled: NodeJS.Immediate | undefined;
  #closed = false;
  #failure: unknown;

  /**
   * @param path the file being written.
   * @param frontier returns how many bytes from offset 0 are written contiguously (safe to read back).
   */
  constructor(path: string, frontier: () => number) {
    this.#path = path;
    this.#frontier = frontier;
  }

  /**
   * Offers bytes just received for offset `position`: hashed now when they continue the hash (the
   * part already hashed, as after a retry, is skipped), else left to be read back once written.
   */
  received(position: number, chunk: Buffer): void {
    const end = position + chunk.length;
    if (this.#closed || position > this.#hashed || end <= this.#hashed) return;
    this.#hash.update(position === this.#hashed ? chunk : chunk.subarray(this.#hashed - position));
    this.#hashed = end;
  }

  /** Reads back written bytes that were not hashed on arrival; call after writes. Cheap when none. */
  pump(): void {
    if (this.#closed || this.#scheduled !== undefined || this.#frontier() <= this.#hashed) return;
    try {
      this.#readBack(Math.min(this.#frontier(), this.#hashed + PUMP_READ_BYTES));
    } catch (err) {
      // Surfaces in digest(); the download goes on so its bytes are kept for a resume.
      this.#failure ??= err;
      this.close();
      return;
    }
    if (this.#frontier() > this.#hashed) {
      this.#scheduled = setImmediate(() => {
        this.#scheduled = undefined;
        this.pump();
      });
    }
  }

  /** Finishes the hash over the first `size` bytes (all written) and returns the lowercase hex digest. */
  digest(size: number): string {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#frontier() < size) {
      this.close();
      throw new Error(`Only ${this.#frontier()} of ${size} bytes were written in order`);
    }
    this.#readBack(size);
    this.close();
    return this.#hash.digest('hex');
  }

  /** Stops reading back (idempotent). */
  close(): void {
    this.#closed = true;
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#buffer = undefined;
  }

  // Synchronous on purpose: a direct update in `received` must never run between an async read's
  // start and its hash, or the chain would take bytes out of order. Page-cache reads take ~1 ms/4 MiB.
  #readBack(to: number): void {
    if (to <= this.#hashed) return;
    this.#buffer ??= Buffer.allocUnsafe(READ_BYTES);
    const fd = openSync(this.#path, 'r');
    try {
      while (this.#hashed < to) {
        const bytesRead = readSync(
          fd,
          this.#buffer,
          0,
          Math.min(READ_BYTES, to - this.#hashed),
          this.#hashed,
        );
        if (bytesRead === 0) {
          throw new Error(`Read back 0 bytes at offset ${this.#hashed}: the file is shorter than written`);
        }
        this.#hash.update(this.#buffer.subarray(0, bytesRead));
        this.#hashed += bytesRead;
      }
    } finally {
      closeSync(fd);
    }
  }
}
