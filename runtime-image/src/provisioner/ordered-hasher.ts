/**
 * SHA-256 of a file whose byte ranges arrive out of order, computed while it downloads.
 *
 * SHA-256 is a chain: ranges cannot be hashed in parallel and combined, so the hash follows the
 * contiguous written prefix (the "frontier"); download.ts hands out segments in file order so the
 * frontier trails the download by at most `parallelism` segments. Where the hash runs was measured
 * with bench/provisioner.ts (1 GiB from 127.0.0.1 on a busy 2-core machine, per-round ratios against
 * sha256sum): hashing each arriving chunk from memory on the main thread put ~0.7 s of CPU per GiB on
 * the thread that also parses HTTP and issues writes, and runs reached 0.6-0.8x of sha256sum. A worker
 * thread that reads the written prefix back from the page cache (a memory copy, no disk read) moves
 * the hash to the second core; download and hash overlap and the digest is ready ~0.1 s after the
 * last byte (0.87-0.91x together with the write changes in segment-writer.ts). Measured again once
 * writes were 256 KiB and synchronous (segment-writer.ts): hashing each received chunk on the main
 * thread took the same CPU time in total (~3.2 s per GiB with writes) but ran ~10% longer (3.0-3.3 s
 * against 2.7-2.9 s per GiB, 5 interleaved rounds), since here the second core does the hash while
 * the main thread receives and writes. Re-reading the whole file after the download was not an
 * option: it adds the full hash time to the tail. Bytes resumed from an earlier run are hashed the
 * same way, starting at offset 0.
 */
import { Worker } from 'node:worker_threads';
import type { DigestMethod } from './digest.ts';

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
  constructor(path: string, frontier: () => number, method: DigestMethod = 'sha256', size = 0) {
    this.#frontier = frontier;
    this.#worker = new Worker(new URL('./hash-worker.ts', import.meta.url), {
      workerData: { path, method, size },
    });
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
