/**
 * A cap on concurrent upstream requests with a bounded FIFO queue. Hand-written because the
 * usual libraries (p-limit, p-queue, undici's own pool queue) queue without bound and cannot
 * refuse past a queue length or drop a waiter whose client went away, which is what protects
 * the GPU here: waiting clients that disconnect must not later take a slot.
 */
import { tooManyRequests } from './errors.ts';

/** Frees a slot; calling it more than once is harmless. */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
  fail: (error: unknown) => void;
  done: boolean;
}

/** Options for ConcurrencyLimiter. */
export interface LimiterOptions {
  /** Slots (requests in flight upstream). */
  max: number;
  /** Waiters allowed beyond the slots; 0 means refuse as soon as all slots are taken. */
  maxQueue: number;
  /** Longest wait for a slot, in ms. */
  queueTimeoutMs: number;
  /** Retry-After, in seconds, on refusals. */
  retryAfterSeconds: number;
}

/** Slots for upstream requests; `acquire` waits in line or refuses with 429. */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly queue: Waiter[] = [];
  private readonly options: LimiterOptions;

  constructor(options: LimiterOptions) {
    this.options = options;
  }

  /** Requests holding a slot. */
  get inFlight(): number {
    return this.active;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Takes a slot, waiting in line if needed. Rejects with a 429 ApiError when the queue is
   * full or the wait exceeds the timeout, and with the signal's reason if it aborts first.
   */
  acquire(signal: AbortSignal): Promise<Release> {
    if (this.active < this.options.max) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.options.maxQueue)
      return Promise.reject(tooManyRequests('queue_full', String(this.options.retryAfterSeconds)));
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        done: false,
        grant: (release) => {
          finish();
          resolve(release);
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.remove(waiter);
        waiter.fail(tooManyRequests('queue_timeout', String(this.options.retryAfterSeconds)));
      }, this.options.queueTimeoutMs);
      const onAbort = (): void => {
        this.remove(waiter);
        waiter.fail(signal.reason);
      };
      const finish = (): void => {
        waiter.done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // The slot passes straight to the next waiter, so `active` stays the same.
      if (next !== undefined) next.grant(this.releaser());
      else this.active--;
    };
  }

  private remove(waiter: Waiter): void {
    const index = this.queue.indexOf(waiter);
    if (index !== -1) this.queue.splice(index, 1);
  }
}
