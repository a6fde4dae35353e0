/**
 * Progress as structured log lines at a steady cadence, so `kubectl logs` of the weights Job shows
 * bytes, percentage, rate and ETA. Counts two kinds of bytes toward the total: transferred in this run,
 * and reused (already on disk from an earlier run, or a verified final file).
 */
import type { Logger } from 'pino';

/** One progress reading. */
export interface ProgressSnapshot {
  /** Bytes in place toward `totalBytes` (reused + transferred - discarded). */
  bytes: number;
  totalBytes: number;
  /** 0 to 100, one decimal. */
  percent: number;
  /** Bytes received over the network in this run. */
  transferredBytes: number;
  /** Rate over the last interval, bytes per second. */
  rateBytesPerSecond: number;
  /** Seconds left at the run's average rate; null before any byte arrived. */
  etaSeconds: number | null;
  elapsedSeconds: number;
}

/** Counts bytes and logs a progress line every `intervalMs`. */
export class Progress {
  readonly #log: Logger;
  readonly #totalBytes: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #startedAt: number;
  #bytes = 0;
  #transferred = 0;
  #lastTick: { at: number; transferred: number };
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param totalBytes the sum of all files' sizes.
   * @param intervalMs how often to log while started.
   * @param now a monotonic clock in ms (performance.now by default), a parameter for tests.
   */
  constructor(
    log: Logger,
    totalBytes: number,
    intervalMs: number,
    now: () => number = () => performance.now(),
  ) {
    this.#log = log;
    this.#totalBytes = totalBytes;
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#startedAt = now();
    this.#lastTick = { at: this.#startedAt, transferred: 0 };
  }

  /** Records bytes received and written. */
  transferred(bytes: number): void {
    this.#bytes += bytes;
    this.#transferred += bytes;
  }

  /** Records bytes found in place (resumed prefix, verified file). */
  reused(bytes: number): void {
    this.#bytes += bytes;
  }

  /** Takes back bytes that turned out unusable (a restarted download). */
  discarded(bytes: number): void {
    this.#bytes -= bytes;
  }

  /** Starts the periodic log line. */
  start(): void {
    this.#timer ??= setInterval(() => this.#log.info(this.tick(), 'Download progress'), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops the periodic log line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reads the counters and starts a new rate interval. */
  tick(): ProgressSnapshot {
    const now = this.#now();
    const interval = (now - this.#lastTick.at) / 1000;
    const rate = interval > 0 ? (this.#transferred - this.#lastTick.transferred) / interval : 0;
    this.#lastTick = { at: now, transferred: this.#transferred };
    const elapsed = (now - this.#startedAt) / 1000;
    const average = elapsed > 0 ? this.#transferred / elapsed : 0;
    const remaining = Math.max(0, this.#totalBytes - this.#bytes);
    return {
      bytes: this.#bytes,
      totalBytes: this.#totalBytes,
      percent: this.#totalBytes === 0 ? 100 : Math.floor((this.#bytes / this.#totalBytes) * 1000) / 10,
      transferredBytes: this.#transferred,
      rateBytesPerSecond: Math.round(rate),
      etaSeconds: remaining === 0 ? 0 : average > 0 ? Math.ceil(remaining / average) : null,
      elapsedSeconds: Math.round(elapsed * 10) / 10,
    };
  }
}
