/**
 * A work queue with client-go's semantics (util/workqueue): keys are de-duplicated while
 * waiting, a key being processed is never handed to a second worker (a re-add while in flight
 * is parked in `dirty` and queued again on `done`), delayed adds fold to the earliest time,
 * and failures back off per key exponentially up to a cap.
 *
 * Written by hand because no maintained npm package has these semantics: p-queue and
 * fastq run jobs, not keys, so they neither fold duplicates nor keep one key off two workers.
 */
import { backoffDelay } from '../../../common/backoff.ts';
import { type Clock, realClock } from './clock.ts';
import type { RuntimeMetrics } from './metrics.ts';

/** Options of `WorkQueue`. */
export interface WorkQueueOptions {
  /** Label for metrics and logs. */
  name: string;
  clock?: Clock;
  metrics?: RuntimeMetrics;
  /** First retry delay after a failure, ms. Default 50. */
  baseDelayMs?: number;
  /** Cap of the retry delay, ms. Default 300000 (5 min). */
  maxDelayMs?: number;
}

/** A de-duplicating, per-key serialized work queue. */
export class WorkQueue {
  readonly name: string;
  readonly #clock: Clock;
  readonly #metrics: RuntimeMetrics | undefined;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #failures = new Map<string, number>();
  /** Key → the monotonic time its pending delayed add fires. */
  readonly #waiting = new Map<string, number>();
  readonly #waiters: Array<() => void> = [];
  readonly #shutdown = new AbortController();

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.#clock = options.clock ?? realClock;
    this.#metrics = options.metrics;
    this.#baseDelayMs = options.baseDelayMs ?? 50;
    this.#maxDelayMs = options.maxDelayMs ?? 300_000;
  }

  /** Keys waiting to be handed out. */
  get length(): number {
    return this.#queue.length;
  }

  /** Keys handed out and not yet `done`. */
  get inFlight(): number {
    return this.#processing.size;
  }

  /** True once `shutDown` was called. */
  get shuttingDown(): boolean {
    return this.#shutdown.signal.aborted;
  }

  /** Queues `key` unless it is already waiting; a key in flight is queued again when it is done. */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.#metrics?.queueAdds.inc({ name: this.name });
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#queue.push(key);
    this.#updateDepth();
    this.#waiters.shift()?.();
  }

  /** Queues `key` after `ms`; several pending delays for one key fold to the earliest. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.#clock.now() + ms;
    const pending = this.#waiting.get(key);
    if (pending !== undefined && pending <= readyAt) return;
    this.#waiting.set(key, readyAt);
    this.#clock.sleep(ms, this.#shutdown.signal).then(
      () => {
        if (this.#waiting.get(key) !== readyAt) return;
        this.#waiting.delete(key);
        this.add(key);
      },
      () => {},
    );
  }

  /** Queues `key` after its backoff delay, which doubles with each call until `forget`. */
  addRateLimited(key: string): void {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    this.#metrics?.queueRetries.inc({ name: this.name });
    this.addAfter(key, this.backoffFor(failures));
  }

  /** The delay `addRateLimited` uses after `failures` earlier failures. */
  backoffFor(failures: number): number {
    return backoffDelay({ durationMs: this.#baseDelayMs, capMs: this.#maxDelayMs }, failures + 1);
  }

  /** Resets the backoff of `key` (call after a success). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How many times `key` was retried since its last `forget`. */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * Waits for the next key and marks it in flight; the caller must call `done(key)`.
   * Resolves `undefined` once the queue is shut down (remaining keys are dropped).
   */
  async get(): Promise<string | undefined> {
    for (;;) {
      if (this.shuttingDown) return undefined;
      const key = this.#queue.shift();
      if (key !== undefined) {
        this.#dirty.delete(key);
        this.#processing.add(key);
        this.#updateDepth();
        return key;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Marks `key` finished; if it was re-added meanwhile it is queued now. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.shuttingDown) {
      this.#queue.push(key);
      this.#updateDepth();
      this.#waiters.shift()?.();
    }
  }

  /** Stops handing out keys; pending `get` calls resolve `undefined`; delayed adds are dropped. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.#shutdown.abort(new Error(`work queue ${this.name} shut down`));
    this.#queue = [];
    this.#dirty.clear();
    this.#waiting.clear();
    this.#updateDepth();
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #updateDepth(): void {
    this.#metrics?.queueDepth.set({ name: this.name }, this.#queue.length);
  }
}
