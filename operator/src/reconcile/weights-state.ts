/**
 * What the weights Job's state means, and when a failed Job is retried. Pure: the weights-cache
 * reconciler gathers the Job, its pods and the attempts kept on the PVC and does what this
 * returns; a deployment's reconciler reads the same plan for its status. Keeping attempts and the
 * last failure time on the PVC (docs/conventions.md#requeue-and-backoff) means a restarted
 * operator does not stampede downloads.
 */
import { createHash } from 'node:crypto';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { backoffDelay } from '../../../common/backoff.ts';
import type { CatalogModel } from '../catalog/index.ts';
import { provisionerFailure } from './provisioner-result.ts';
import { type WeightsState, weightsFailureMessage } from './status.ts';

/** Longest retry delay, ms. */
export const WEIGHTS_RETRY_MAX_MS = 600_000;

/** The retry delay after `attempts` failures: `baseMs` (config weights.retryBaseSeconds) doubling, capped at 10 min. */
export function weightsRetryDelayMs(attempts: number, baseMs: number): number {
  return backoffDelay({ durationMs: baseMs, capMs: WEIGHTS_RETRY_MAX_MS }, attempts);
}

/**
 * `sha256:` over the catalog's pinned file hashes (a plain git file is pinned by the revision, whose
 * blob id the provisioner verifies): one digest naming the exact weights in use.
 */
export function weightsDigest(model: CatalogModel): string {
  const lines = [...model.weights.files]
    .sort((a, b) => a.path.localeCompare(b.path))
    .map((f) => `${f.sha256 ?? `git@${model.weights.revision}`}  ${f.path}\n`)
    .join('');
  return `sha256:${createHash('sha256').update(lines).digest('hex')}`;
}

/** What the reconciler should do about the weights. */
export interface WeightsPlan {
  state: WeightsState;
  attempts: number;
  lastFailureTime?: string | undefined;
  /** `deleteFailedJob`: the backoff has passed, delete the Job so the next reconcile makes a fresh one. */
  action: 'ensureJob' | 'none' | 'deleteFailedJob';
  /** When to look again, ms (while a Job runs, or until the backoff passes). */
  requeueAfterMs?: number | undefined;
}

function finished(job: V1Job, type: 'Complete' | 'Failed') {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/**
 * Plans the weights step from the Job (undefined when none exists), its pods, and the attempts
 * recorded in status.
 */
export function planWeights(
  job: V1Job | undefined,
  jobPods: V1Pod[],
  previous: { attempts?: number | undefined; lastFailureTime?: string | undefined },
  now: Date,
  retryBaseMs: number,
): WeightsPlan {
  const attempts = previous.attempts ?? 0;
  if (!job) {
    return {
      state: { state: 'absent' },
      attempts,
      lastFailureTime: previous.lastFailureTime,
      action: 'ensureJob',
    };
  }
  if (finished(job, 'Complete')) return { state: { state: 'ready' }, attempts: 0, action: 'none' };
  const failed = finished(job, 'Failed');
  if (failed) {
    const failedAt = failed.lastTransitionTime ? new Date(failed.lastTransitionTime) : now;
    const failedAtStamp = `${failedAt.toISOString().slice(0, 19)}Z`;
    // One Job failure counts once, however often we reconcile while it sits there.
    const counted = previous.lastFailureTime !== undefined && previous.lastFailureTime >= failedAtStamp;
    const total = counted ? attempts : attempts + 1;
    const retryAt = failedAt.getTime() + weightsRetryDelayMs(total, retryBaseMs);
    const message = weightsFailureMessage(job, jobPods);
    if (provisionerFailure(jobPods)?.digestMismatch) {
      // The hub's ids and the bytes (or the catalog) disagree: a new Job would fetch the same.
      return {
        state: { state: 'failed', reason: 'WeightsDigestMismatch', message, retryInMs: undefined },
        attempts: total,
        lastFailureTime: failedAtStamp,
        action: 'none',
      };
    }
    const wait = retryAt - now.getTime();
    return {
      state: { state: 'failed', reason: 'WeightsFailed', message, retryInMs: Math.max(0, wait) },
      attempts: total,
      lastFailureTime: failedAtStamp,
      action: wait <= 0 ? 'deleteFailedJob' : 'none',
      requeueAfterMs: wait > 0 ? wait : undefined,
    };
  }
  const active = job.status?.active ?? 0;
  return {
    state: {
      state: 'provisioning',
      message:
        active > 0
          ? `Weights Job ${job.metadata?.name} is downloading and verifying the files`
          : `Weights Job ${job.metadata?.name} is starting`,
    },
    attempts,
    lastFailureTime: previous.lastFailureTime,
    action: 'ensureJob',
    requeueAfterMs: 30_000,
  };
}
