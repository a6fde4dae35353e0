/**
 * Writes one segment's bytes to the file in order of arrival while the body keeps streaming.
 *
 * Chunks are gathered into 4 MiB writev calls and up to 4 of them are in flight at once. Awaiting each
 * write before reading on stalled the socket on every thread-pool round trip, and each hand-off to the
 * thread pool costs a wake-up: 1 MiB writes spent ~0.4-0.8 s of main-thread time per GiB in the write
 * call itself on a busy 2-core machine, 4 MiB writes ~0.1 s (CPU profiles of bench/provisioner.ts).
 * `segment.done` only advances over writes that completed in order, so the resume record never
 * claims a byte that is not written. Memory: at most 4 x 4 MiB in flight per segment.
 */
import type { FileHandle } from 'node:fs/promises';
import { ProvisionError } from './errors.ts';
import type { Segment } from './partial.ts';

const WRITE_BYTES = 4 * 1024 * 1024;
const MAX_IN_FLIGHT = 4;

/** Queues a segment's chunks as positional writes; see the module comment. */
export class SegmentWriter {
  readonly #handle: FileHandle;
  readonly #segment: Segment;
  readonly #name: string;
  readonly #onWritten: (bytes: number) => void;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #writeAt: number;
  readonly #inFlight: { done: Promise<void>; length: number }[] = [];

  /**
   * @param segment its `done` grows as writes complete in order.
   * @param name the file's name, for error messages.
   * @param onWritten called with each completed write's length, in order.
   */
  constructor(handle: FileHandle, segment: Segment, name: string, onWritten: (bytes: number) => void) {
    this.#handle = handle;
    this.#segment = segment;
    this.#name = name;
    this.#onWritten = onWritten;
    this.#writeAt = segment.start + segment.done;
  }

  /** Queues a chunk; resolves at once unless too many writes are in flight. */
  async push(chunk: Buffer): Promise<void> {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= WRITE_BYTES) this.#issue();
    if (this.#inFlight.length >= MAX_IN_FLIGHT) await this.#settleOldest();
  }

  /** Writes what is queued and waits for every write; rethrows the first failure after all settle. */
  async finish(): Promise<void> {
    this.#issue();
    let failure: unknown;
    while (this.#inFlight.length > 0) {
      try {
        await this.#settleOldest();
      } catch (err) {
        // Later writes must still settle before the caller closes the file; their bytes do not count.
        failure ??= err;
        for (const write of this.#inFlight.splice(0)) await write.done.catch(() => {});
      }
    }
    if (failure !== undefined) throw failure;
  }

  #issue(): void {
    if (this.#pendingBytes === 0) return;
    const length = this.#pendingBytes;
    const buffers = this.#pending;
    const at = this.#writeAt;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#writeAt += length;
    const done = this.#handle.writev(buffers, at).then(({ bytesWritten }) => {
      if (bytesWritten !== length) {
        throw new ProvisionError(
          'DiskFull',
          'terminal',
          `${this.#name}: short write (${bytesWritten} of ${length} bytes)`,
        );
      }
    });
    done.catch(() => {}); // Observed in settleOldest/finish; this only keeps it from counting as unhandled.
    this.#inFlight.push({ done, length });
  }

  async #settleOldest(): Promise<void> {
    const oldest = this.#inFlight.shift();
    if (oldest === undefined) return;
    await oldest.done;
    this.#segment.done += oldest.length;
    this.#onWritten(oldest.length);
  }
}
