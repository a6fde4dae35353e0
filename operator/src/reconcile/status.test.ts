import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { podsProblem } from './stalls.ts';
import { computeStatus, deletingStatus, type Observed } from './status.ts';

const now = new Date('2026-11-27T10:00:00Z');
const later = new Date('2026-11-27T11:00:00Z');

function cr(overrides: Partial<PixtralDeployment['metadata']> = {}): PixtralDeployment {
  return {
    apiVersion: 'inference.pixtral.dev/v1alpha1',
    kind: 'PixtralDeployment',
    metadata: {
      name: 'vision',
      namespace: 'team-a',
      generation: 3,
      uid: '6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
      ...overrides,
    },
    spec: {
      model: 'mistral/pixtral-12b-2409:bf16',
      nodeType: 'H100',
      minSize: 1,
      endpoints: { private: { disableAuth: false } },
    },
  } as PixtralDeployment;
}

function deployment(ready: number, replicas = 1): V1Deployment {
  return {
    metadata: { generation: 2 },
    spec: { replicas } as V1Deployment['spec'],
    status: {
      observedGeneration: 2,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: ready,
      availableReplicas: ready,
    },
  };
}

function observed(overrides: Partial<Observed> = {}): Observed {
  return {
    weights: { state: 'ready' },
    weightsIdentity: {
      revision: 'a9da202d8e3192195835f077c43435c8b22545ab',
      digest: `sha256:${'a'.repeat(64)}`,
    },
    weightsAttempts: { attempts: 0 },
    deployment: deployment(1),
    pods: [],
    endpoints: { private: 'http://vision.team-a.svc.cluster.local/v1' },
    ...overrides,
  };
}

const condition = (status: ReturnType<typeof computeStatus>, type: string) =>
  status.conditions?.find((c) => c.type === type);

describe('computeStatus', () => {
  it('walks Creating, ProvisioningWeights, Deploying, Ready as the world advances', () => {
    const phases = [
      observed({ weights: { state: 'absent' }, deployment: undefined }),
      observed({ weights: { state: 'provisioning', message: 'Downloading' }, deployment: undefined }),
      observed({ deployment: deployment(0) }),
      observed(),
    ].map((o) => computeStatus(cr(), o, now).phase);
    expect(phases).toEqual(['Creating', 'ProvisioningWeights', 'Deploying', 'Ready']);
  });

  it('is Ready with every condition a user waits on, the uuid, endpoints and weights digest', () => {
    const status = computeStatus(cr(), observed(), now);
    expect(status.uuid).toBe('6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b');
    expect(status.readyReplicas).toBe(1);
    expect(status.observedGeneration).toBe(3);
    expect(status.endpoints).toEqual({ private: 'http://vision.team-a.svc.cluster.local/v1' });
    expect(status.weights?.digest).toMatch(/^sha256:/);
    expect(condition(status, 'Ready')?.status).toBe('True');
    expect(condition(status, 'Available')?.status).toBe('True');
    expect(condition(status, 'WeightsReady')?.status).toBe('True');
    expect(condition(status, 'Degraded')?.status).toBe('False');
    expect(status.conditions?.every((c) => c.observedGeneration === 3)).toBe(true);
  });

  it('says InsufficientGPU with the scheduler message when serving pods cannot be placed', () => {
    const pending: V1Pod = {
      status: {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/2 nodes are available: 2 Insufficient nvidia.com/gpu.',
          },
        ],
      },
    };
    const status = computeStatus(
      cr(),
      observed({ deployment: deployment(0), pods: [pending], servingStall: podsProblem([pending]) }),
      now,
    );
    expect(status.phase).toBe('Deploying');
    expect(condition(status, 'Degraded')).toMatchObject({ status: 'True', reason: 'InsufficientGPU' });
    expect(condition(status, 'Degraded')?.message).toContain('Insufficient nvidia.com/gpu');
  });

  it('reports a stuck weights claim in WeightsReady and Degraded while the phase stays ProvisioningWeights', () => {
    const stall = { reason: 'VolumePending', message: 'PersistentVolumeClaim team-a/w is Pending: no class' };
    const status = computeStatus(
      cr(),
      observed({ weights: { state: 'provisioning', message: 'x' }, weightsStall: stall }),
      now,
    );
    expect(status.phase).toBe('ProvisioningWeights');
    expect(condition(status, 'WeightsReady')).toMatchObject({ status: 'False', ...stall });
    expect(condition(status, 'Degraded')).toMatchObject({ status: 'True', ...stall });
  });

  it('goes to Error with the failure and the retry delay when the weights Job failed', () => {
    const status = computeStatus(
      cr(),
      observed({
        weights: {
          state: 'failed',
          reason: 'WeightsFailed',
          message: 'Weights Job weights-1 failed (BackoffLimitExceeded)',
          retryInMs: 60_000,
        },
        weightsAttempts: { attempts: 2, lastFailureTime: '2026-11-27T09:59:00Z' },
        deployment: undefined,
      }),
      now,
    );
    expect(status.phase).toBe('Error');
    expect(condition(status, 'WeightsReady')?.message).toContain('retrying in 60 s');
    expect(condition(status, 'Degraded')).toMatchObject({ status: 'True', reason: 'WeightsFailed' });
    expect(status.weights).toEqual({ attempts: 2, lastFailureTime: '2026-11-27T09:59:00Z' });
  });

  it('keeps lastTransitionTime when nothing flips, so a steady world computes the same status', () => {
    const first = computeStatus(cr(), observed(), now);
    const second = computeStatus({ ...cr(), status: first }, observed(), later);
    expect(second).toEqual(first);
  });

  it('moves lastTransitionTime of a condition that flips', () => {
    const first = computeStatus(cr(), observed({ deployment: deployment(0) }), now);
    const second = computeStatus({ ...cr(), status: first }, observed(), later);
    expect(condition(second, 'Ready')?.lastTransitionTime).toBe('2026-11-27T11:00:00Z');
    expect(condition(second, 'WeightsReady')?.lastTransitionTime).toBe('2026-11-27T10:00:00Z');
  });

  it('reports Deleting while the resource is being deleted, with conditions that agree', () => {
    const ready = computeStatus(cr(), observed(), now);
    const deleting = {
      ...cr({ deletionTimestamp: '2026-11-27T09:00:00Z', generation: 4 } as never),
      status: ready,
    };
    const status = deletingStatus(deleting, later);
    expect(status.phase).toBe('Deleting');
    expect(status.observedGeneration).toBe(4);
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'Deleting' });
    expect(condition(status, 'Progressing')).toMatchObject({ status: 'False', reason: 'Deleting' });
    // What the deletion does not change is kept: the uuid and the other conditions.
    expect(status.uuid).toBe(ready.uuid);
    expect(condition(status, 'WeightsReady')).toEqual(condition(ready, 'WeightsReady'));
  });
});
