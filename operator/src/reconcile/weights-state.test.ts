import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { findModel } from '../catalog/index.ts';
import { planWeights, weightsDigest, weightsRetryDelayMs } from './weights-state.ts';

const now = new Date('2026-11-27T10:00:00Z');
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
    expect(planWeights(undefined, [], {}, now)).toMatchObject({
      state: { state: 'absent' },
      action: 'ensureJob',
    });
  });

  it('is provisioning while the Job runs, and looks again later', () => {
    const plan = planWeights(job(), [], {}, now);
    expect(plan.state.state).toBe('provisioning');
    expect(plan.requeueAfterMs).toBeGreaterThan(0);
  });

  it('is ready once the Job completed, and forgets earlier failures', () => {
    expect(
      planWeights(job({ type: 'Complete', at: '2026-11-27T09:00:00Z' }), [], { attempts: 3 }, now),
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
    const first = planWeights(failed, [], {}, now);
    expect(first).toMatchObject({ attempts: 1, action: 'none', lastFailureTime: '2026-11-27T09:59:50Z' });
    expect(first.requeueAfterMs).toBe(20_000);
    expect(first.state).toMatchObject({ state: 'failed', reason: 'WeightsFailed' });
    const again = planWeights(
      failed,
      [],
      { attempts: first.attempts, lastFailureTime: first.lastFailureTime },
      now,
    );
    expect(again.attempts).toBe(1);
    const afterBackoff = planWeights(
      failed,
      [],
      { attempts: 1, lastFailureTime: first.lastFailureTime },
      new Date('2026-11-27T10:00:30Z'),
    );
    expect(afterBackoff.action).toBe('deleteFailedJob');
  });

  it('names a digest mismatch from the provisioner termination message', () => {
    const failed = job({ type: 'Failed', at: '2026-11-27T09:59:50Z', reason: 'BackoffLimitExceeded' });
    const pod = {
      status: {
        containerStatuses: [
          {
            name: 'provision',
            image: 'x',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode: 1,
                message: 'consolidated.safetensors: SHA-256 mismatch, expected aa, got bb',
              },
            },
          },
        ],
      },
    };
    const plan = planWeights(failed, [pod as never], {}, now);
    expect(plan.state).toMatchObject({ reason: 'WeightsDigestMismatch' });
    expect((plan.state as { message: string }).message).toContain('expected aa, got bb');
  });
});

describe('weights retry delay', () => {
  it('doubles from 30 s and stops at 10 min', () => {
    expect([1, 2, 3, 10].map((attempts) => weightsRetryDelayMs(attempts))).toEqual([
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
