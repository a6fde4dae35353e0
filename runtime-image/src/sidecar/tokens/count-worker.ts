/**
 * Counts long texts on a worker thread, so the event loop stays free while a megabyte of text is
 * counted (or refused for its length): /health and other requests are answered meanwhile. Counting
 * in slices on the event loop was not enough on a busy machine: a process that is busy counting
 * waits for its turn on the CPU like any other, while one that waits in epoll is woken as soon as
 * a probe arrives. Short texts, nearly all of them, are still counted in place (a thread hop costs
 * more than their count).
 *
 * The thread starts on the first long text and stops after IDLE_MS without one, so an idle sidecar
 * does not hold a second V8 heap. It gets the tokenizer's tables by copy (2.5 MB), not by reading
 * tekken.json again. If the thread fails (out of its memory limit, or killed), the text is counted
 * on the event loop instead, in slices, as before; the next long text starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import type { Pacer, Tekkenizer } from './tekken.ts';

/** A count the thread is asked for. */
export interface CountRequest {
  id: number;
  text: string;
  limit: number;
}

/** The thread's answer to one CountRequest. */
export type CountReply = { id: number; tokens: number } | { id: number; error: string };

/** What counts a text's tokens up to a limit (Tekkenizer.countUpTo's contract). */
export interface TokenCounter {
  countUpTo(text: string, limit: number, pacer: Pacer): number | Promise<number>;
}

/** Texts longer than this many UTF-16 units are counted on the thread. */
const MIN_WORKER_CHARS = 32 * 1024;
/** The thread stops after this long without a text to count. */
const IDLE_MS = 30_000;
/**
 * The thread's heap: the longest text it is sent (at most context × longest token, ~10 M units
 * for Pixtral, as two-byte characters) plus the pre-tokenizer's windows and the piece cache.
 */
const WORKER_HEAP_MB = 128;
const WORKER_ENTRY = new URL('./count-worker-entry.ts', import.meta.url);

/** A TokenCounter that sends long texts to a worker thread; options are for tests. */
export class CountWorker implements TokenCounter {
  readonly #tokenizer: Tekkenizer;
  readonly #minChars: number;
  readonly #idleMs: number;
  #worker: Worker | undefined;
  #idle: NodeJS.Timeout | undefined;
  #nextId = 0;
  readonly #pending = new Map<
    number,
    { resolve: (tokens: number) => void; reject: (error: Error) => void }
  >();

  constructor(tokenizer: Tekkenizer, options: { minChars?: number; idleMs?: number } = {}) {
    this.#tokenizer = tokenizer;
    this.#minChars = options.minChars ?? MIN_WORKER_CHARS;
    this.#idleMs = options.idleMs ?? IDLE_MS;
  }

  /** True while the thread is running. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  countUpTo(text: string, limit: number, pacer: Pacer): number | Promise<number> {
    if (text.length <= this.#minChars) return this.#tokenizer.countUpTo(text, limit, pacer);
    // No token covers more than the longest one's bytes, and a UTF-16 unit is at least a byte:
    // a text this long is over the limit without counting (and is never copied to the thread).
    const atLeast = Math.ceil(text.length / this.#tokenizer.longestToken);
    if (atLeast > limit) return atLeast;
    return this.#onThread(text, limit).catch(() => this.#tokenizer.countUpTo(text, limit, pacer));
  }

  /** Stops the thread; counts in progress fall back to the event loop. */
  async close(): Promise<void> {
    clearTimeout(this.#idle);
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#stopped(worker, new Error('the count worker was closed'));
    await worker.terminate();
  }

  #onThread(text: string, limit: number): Promise<number> {
    clearTimeout(this.#idle);
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, text, limit } satisfies CountRequest);
    });
  }

  #start(): Worker {
    const worker = new Worker(WORKER_ENTRY, {
      workerData: this.#tokenizer.toData(),
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    worker.unref();
    worker.on('message', (reply: CountReply) => {
      const waiter = this.#pending.get(reply.id);
      if (waiter === undefined) return;
      this.#pending.delete(reply.id);
      if ('tokens' in reply) waiter.resolve(reply.tokens);
      else waiter.reject(new Error(reply.error));
      if (this.#pending.size === 0) this.#scheduleStop();
    });
    worker.on('error', (error) => this.#stopped(worker, error));
    worker.on('exit', () => this.#stopped(worker, new Error('the count worker exited')));
    this.#worker = worker;
    return worker;
  }

  #scheduleStop(): void {
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      if (this.#pending.size > 0) return;
      const worker = this.#worker;
      this.#worker = undefined;
      void worker?.terminate();
    }, this.#idleMs);
    this.#idle.unref();
  }

  /** The thread is gone: its counts fail over to the event loop, the next text starts a new one. */
  #stopped(worker: Worker, error: Error): void {
    // An idle thread stopped earlier may report its exit after a new one has started.
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    for (const waiter of this.#pending.values()) waiter.reject(error);
    this.#pending.clear();
  }
}
