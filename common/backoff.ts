/**
 * The one backoff shape of every retry loop in the operator and the runtime image, after
 * apimachinery's `wait.Backoff`: a first `duration`, multiplied by `factor` each step, held at
 * `cap`, lengthened by up to `jitter` × itself at random, for at most `steps` steps.
 *
 * Lives in `common/` (copied into both images) so the operator image does not depend on the
 * runtime image nor the other way round. Hand-written: the npm retry packages (p-retry,
 * exponential-backoff) own the loop, and our loops differ in what they wait on (a work queue's
 * timer, an informer's watch, a status timestamp), so only the arithmetic is shared.
 */

/** Options of `Backoff` (apimachinery's field names, in ms). */
export interface BackoffOptions {
  /** The first delay, ms. */
  durationMs: number;
  /** Multiplier per step. Default 2. */
  factor?: number;
  /** Each delay is lengthened by up to this fraction of itself, at random (1 → up to twice). Default 0. */
  jitter?: number;
  /** Steps before `next` says stop; a reset gives them all back. Default unlimited. */
  steps?: number;
  /** The longest delay before jitter, ms. Default none. */
  capMs?: number;
  /** A random source in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
}

/** The delay of step `n` (n ≥ 1) before jitter: duration × factor^(n−1), held at the cap. */
export function backoffDelay(options: BackoffOptions, n: number): number {
  const raw = options.durationMs * (options.factor ?? 2) ** Math.min(Math.max(0, n - 1), 1023);
  return options.capMs === undefined ? raw : Math.min(raw, options.capMs);
}

/**
 * A backoff in progress. `next()` returns the next delay (jittered) or `undefined` once `steps`
 * are used up; `reset()` starts over, e.g. after a watch that ran long enough or, for a download,
 * after an attempt that made progress (a budget of failures in a row, not in total).
 */
export class Backoff {
  readonly options: BackoffOptions;
  #taken = 0;

  constructor(options: BackoffOptions) {
    if (!(options.durationMs >= 0))
      throw new Error(`Backoff: durationMs must be >= 0, got ${options.durationMs}`);
    this.options = options;
  }

  /** Steps taken since the last reset. */
  get taken(): number {
    return this.#taken;
  }

  /** The next delay in ms, or `undefined` when the steps are used up. */
  next(): number | undefined {
    const { steps, jitter = 0, random = Math.random } = this.options;
    if (steps !== undefined && this.#taken >= steps) return undefined;
    this.#taken++;
    const delay = backoffDelay(this.options, this.#taken);
    return jitter > 0 ? delay * (1 + jitter * random()) : delay;
  }

  /** Starts over from the first delay, with every step available again. */
  reset(): void {
    this.#taken = 0;
  }
}
