import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../../runtime-image/src/provisioner/errors.ts';
import type { TerminationMessage } from '../../../runtime-image/src/provisioner/main.ts';
import { findModel } from '../catalog/index.ts';
import { PROVISIONER_EXIT } from './provisioner-result.ts';
import { planWeights, weightsDigest, weightsRetryDelayMs } from './weights-state.ts';

const now = new Date('2026-11-27T10:00:00Z');
/** The configuration's default weights.retryBaseSeconds, in ms. */
const RETRY_BASE_MS = 30_000;
const job = (condition?: { type: string; at: string; reason?: string; message?: string }): V1Job => ({
  metadata: { name: 'weights-abc' },
  status: condition
    ? {
        conditions: [
          {
            type: condition.type,
            status: 'True',
            lastTransitionTime: condition.at as never,
            reason: condition.reason,
            message: condition.message,
          },
        ],
      }
    : { active: 1 },
});

describe('planWeights', () => {
  it('asks for a Job when there is none', () => {
    expect(planWeights(undefined, [], {}, now, RETRY_BASE_MS)).toMatchObject({
      state: { state: 'absent' },
      action: 'ensureJob',
    });
  });

  it('is provisioning while the Job runs, and looks again later', () => {
    const plan = planWeights(job(), [], {}, now, RETRY_BASE_MS);
    expect(plan.state.state).toBe('provisioning');
    expect(plan.requeueAfterMs).toBeGreaterThan(0);
  });

  it('is ready once the Job completed, and forgets earlier failures', () => {
    expect(
      planWeights(
        job({ type: 'Complete', at: '2026-11-27T09:00:00Z' }),
        [],
        { attempts: 3 },
        now,
        RETRY_BASE_MS,
      ),
    ).toMatchObject({
      state: { state: 'ready' },
      attempts: 0,
    });
  });

  it('counts a failed Job once and waits out the backoff before retrying', () => {
    const failed = job({
      type: 'Failed',
      at: '2026-11-27T09:59:50Z',
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
    const first = planWeights(failed, [], {}, now, RETRY_BASE_MS);
    expect(first).toMatchObject({ attempts: 1, action: 'none', lastFailureTime: '2026-11-27T09:59:50Z' });
    expect(first.requeueAfterMs).toBe(20_000);
    expect(first.state).toMatchObject({ state: 'failed', reason: 'WeightsFailed' });
    const again = planWeights(
      failed,
      [],
      { attempts: first.attempts, lastFailureTime: first.lastFailureTime },
      now,
      RETRY_BASE_MS,
    );
    expect(again.attempts).toBe(1);
    const afterBackoff = planWeights(
      failed,
      [],
      { attempts: 1, lastFailureTime: first.lastFailureTime },
      new Date('2026-11-27T10:00:30Z'),
      RETRY_BASE_MS,
    );
    expect(afterBackoff.action).toBe('deleteFailedJob');
  });

  const terminated = (exitCode: number, message: string) => ({
    status: {
      containerStatuses: [
        {
          name: 'provisioner',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode, message, finishedAt: new Date('2026-11-27T09:59:49Z') } },
        },
      ],
    },
  });
  const failed = job({ type: 'Failed', at: '2026-11-27T09:59:50Z', reason: 'PodFailurePolicy' });

  it('reads a digest mismatch from the provisioner report: both digests, and no retry', () => {
    const report: TerminationMessage = {
      code: 'DigestMismatch',
      retry: 'terminal',
      file: 'params.json',
      expected: `git-blob-sha1:${'a'.repeat(40)}`,
      got: `git-blob-sha1:${'b'.repeat(40)}`,
      message: 'Provisioning failed: params.json: git blob SHA-1 mismatch',
    };
    const plan = planWeights(
      failed,
      [terminated(EXIT_CODES.digest, JSON.stringify(report)) as never],
      {},
      now,
      RETRY_BASE_MS,
    );
    expect(plan.state).toMatchObject({
      state: 'failed',
      reason: 'WeightsDigestMismatch',
      retryInMs: undefined,
    });
    expect((plan.state as { message: string }).message).toContain(
      `params.json should be git-blob-sha1:${'a'.repeat(40)} but is git-blob-sha1:${'b'.repeat(40)}`,
    );
    expect(plan.action).toBe('none');
    expect(plan.requeueAfterMs).toBeUndefined();
  });

  it('retries a network failure with backoff, and never reads prose as a digest problem', () => {
    const report: TerminationMessage = {
      code: 'NetworkError',
      retry: 'transient',
      message: 'Provisioning failed: the SHA-256 service said ECONNRESET',
    };
    const plan = planWeights(
      failed,
      [terminated(EXIT_CODES.transient, JSON.stringify(report)) as never],
      {},
      now,
      RETRY_BASE_MS,
    );
    expect(plan.state).toMatchObject({ state: 'failed', reason: 'WeightsFailed' });
    expect(plan.requeueAfterMs).toBeGreaterThan(0);
  });

  it('agrees with the provisioner on the exit codes it acts on', () => {
    expect(PROVISIONER_EXIT).toEqual({ digest: EXIT_CODES.digest, transient: EXIT_CODES.transient });
  });
});

describe('weights retry delay', () => {
  it('doubles from 30 s and stops at 10 min', () => {
    expect([1, 2, 3, 10].map((attempts) => weightsRetryDelayMs(attempts, RETRY_BASE_MS))).toEqual([
      30_000, 60_000, 120_000, 600_000,
    ]);
  });
});

describe('weightsDigest', () => {
  it('names the catalog files exactly and does not change between calls', () => {
    const model = findModel('mistral/pixtral-12b-2409:bf16')!;
    expect(weightsDigest(model)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(weightsDigest(model)).toBe(weightsDigest(model));
  });
});
