/**
 * Retries transient failures with exponential backoff and jitter.
 *
 * Hand-written rather than p-retry because the budget must reset when an attempt made progress: a
 * 25 GB download over a flaky link may be cut a hundred times and still finish, while a server that
 * fails every request before sending a byte must give up after `retries` attempts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
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
  let failures = 0;
  for (;;) {
    const before = options.progress();
    try {
      return await attempt();
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      if (!isTransient(err)) throw err;
      const error = err as ProvisionError;
      failures = options.progress() > before ? 1 : failures + 1;
      if (failures > policy.retries) {
        throw new ProvisionError(
          error.code,
          'terminal',
          `${error.message} (gave up after ${failures} attempts in a row without progress)`,
          { cause: error },
        );
      }
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - 1));
      const jittered = backoff * (0.5 + Math.random() / 2);
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
