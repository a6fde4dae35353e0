/**
 * Retries transient failures with exponential backoff and jitter.
 *
 * Hand-written rather than p-retry because the budget must reset when an attempt made progress: a
 * 25 GB download over a flaky link may be cut a hundred times and still finish, while a server that
 * fails every request before sending a byte must give up after `retries` attempts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../../../common/backoff.ts';
import { isTransient, ProvisionError } from './errors.ts';

/** How often and how long to retry. */
export interface RetryPolicy {
  /** Failed attempts in a row without progress before giving up; 0 = no retry. */
  retries: number;
  /** First delay in ms; doubled after each failure, capped at `maxDelayMs`. */
  baseDelayMs: number;
  /** Longest delay in ms, also the cap on a server's Retry-After. */
  maxDelayMs: number;
}

/** Runs `attempt` until it succeeds, a terminal error occurs, the budget is spent or `signal` aborts. */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  options: {
    policy: RetryPolicy;
    signal: AbortSignal;
    /** A number that grows when an attempt made progress (bytes written); growth resets the budget. */
    progress: () => number;
    onRetry: (err: ProvisionError, failures: number, delayMs: number) => void;
  },
): Promise<T> {
  const { policy, signal } = options;
  // Half the doubled delay plus up to as much again at random (from base/2..base up to max/2..max);
  // the steps are the failures in a row allowed, given back whenever an attempt made progress.
  const backoff = new Backoff({
    durationMs: policy.baseDelayMs / 2,
    capMs: policy.maxDelayMs / 2,
    jitter: 1,
    steps: policy.retries,
  });
  for (;;) {
    const before = options.progress();
    try {
      return await attempt();
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      if (!isTransient(err)) throw err;
      const error = err as ProvisionError;
      if (options.progress() > before) backoff.reset();
      const jittered = backoff.next();
      const failures = backoff.taken + (jittered === undefined ? 1 : 0);
      if (jittered === undefined) {
        throw new ProvisionError(
          error.code,
          'terminal',
          `${error.message} (gave up after ${failures} attempts in a row without progress)`,
          { cause: error },
        );
      }
      const serverAsked = (error.retryAfterSeconds ?? 0) * 1000;
      const delayMs = Math.round(Math.min(policy.maxDelayMs, Math.max(jittered, serverAsked)));
      options.onRetry(error, failures, delayMs);
      try {
        await sleep(delayMs, undefined, { signal });
      } catch (sleepErr) {
        throw signal.reason ?? sleepErr;
      }
    }
  }
}
