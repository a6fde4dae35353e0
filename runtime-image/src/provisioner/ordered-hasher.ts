/**
 * SHA-256 of a file whose byte ranges arrive out of order, computed while it downloads.
 *
 * SHA-256 is a chain: ranges cannot be hashed in parallel and combined, so the hash follows the
 * contiguous written prefix (the "frontier"). The choice, measured with bench/provisioner.ts on a
 * busy 2-core machine (1 GiB from 127.0.0.1): hashing arriving chunks from memory on the main thread
 * cost ~0.7 s of CPU per GiB on the same thread that parses HTTP and issues writes, and the run
 * reached only 0.6-0.8x of sha256sum. Hashing in a worker thread that reads the written prefix back
 * from the page cache (a memory copy, not a disk read) puts the hash on the second core; the
 * download and the hash then overlap, and the digest is ready shortly after the last byte lands. A
 * full re-read at the end was not an option: it would add the whole hash time to the tail. Resumed
 * bytes from an earlier run are hashed the same way, from offset 0.
 */
import { Worker } from 'node:worker_threads';

const PUMP_BYTES = 16 * 1024 * 1024;

/** Hashes a file in order while its ranges are being written, possibly out of order. */
export class OrderedHasher {
  readonly #worker: Worker;
  readonly #frontier: () => number;
  #reported = 0;
  #failure: Error | undefined;

  /**
   * @param path the file being written.
   * @param frontier returns how many bytes from offset 0 are written contiguously (safe to read back).
   */
  constructor(path: string, frontier: () => number) {
    this.#frontier = frontier;
    this.#worker = new Worker(new URL('./hash-worker.ts', import.meta.url), { workerData: { path } });
    this.#worker.on('error', (err) => {
      this.#failure = err;
    });
  }

  /** Tells the worker about newly written bytes; call after each write. Cheap when nothing changed. */
  pump(): void {
    const frontier = this.#frontier();
    // Batched: a message per MiB written cost ~0.3 s of main-thread time per GiB.
    if (frontier >= this.#reported + PUMP_BYTES) {
      this.#reported = frontier;
      this.#worker.postMessage({ frontier });
    }
  }

  /** Waits for the hash to reach `size` and returns the lowercase hex digest; stops the worker. */
  async digest(size: number): Promise<string> {
    if (this.#frontier() < size) {
      await this.close();
      throw new Error(`Only ${this.#frontier()} of ${size} bytes were written in order`);
    }
    try {
      if (this.#failure !== undefined) throw this.#failure;
      const reply = new Promise<{ digest?: string; error?: string }>((resolve, reject) => {
        this.#worker.once('message', resolve);
        this.#worker.once('error', reject);
      });
      this.#worker.postMessage({ finish: size });
      const { digest, error } = await reply;
      if (digest === undefined) throw new Error(`Hashing failed: ${error}`);
      return digest;
    } finally {
      await this.close();
    }
  }

  /** Stops the worker (idempotent). */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
