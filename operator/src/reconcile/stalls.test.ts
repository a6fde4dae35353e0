import type { CoreV1Event, V1Deployment, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { claimProblem, deploymentProblem, jobProblem, podsProblem } from './stalls.ts';

const meta = { namespace: 'team-a', name: 'vision-pixtral-abc' };

function unschedulable(message: string): V1Pod {
  return {
    metadata: meta,
    status: {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
    },
  };
}

function waiting(reason: string, message?: string): V1Pod {
  return {
    metadata: meta,
    spec: { containers: [{ name: 'vllm', image: 'vllm/vllm-openai:v1' }] },
    status: {
      containerStatuses: [
        {
          name: 'vllm',
          image: 'vllm/vllm-openai:v1',
          imageID: '',
          ready: false,
          restartCount: 4,
          state: { waiting: { reason, ...(message ? { message } : {}) } },
        },
      ],
    },
  };
}

describe('podsProblem', () => {
  it('says InsufficientGPU only when the scheduler says GPUs are short', () => {
    expect(
      podsProblem([unschedulable('0/3 nodes are available: 3 Insufficient nvidia.com/gpu.')]),
    ).toMatchObject({
      reason: 'InsufficientGPU',
    });
  });

  it('says Unschedulable with the message when a selector matches no node', () => {
    const message = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.";
    expect(podsProblem([unschedulable(message)])).toEqual({
      reason: 'Unschedulable',
      message: `Pod team-a/vision-pixtral-abc cannot be scheduled: ${message}`,
    });
  });

  it('names the container and image of a pull failure', () => {
    const stall = podsProblem([waiting('ImagePullBackOff', 'Back-off pulling image')]);
    expect(stall?.reason).toBe('ImagePullFailed');
    expect(stall?.message).toContain('container vllm (image vllm/vllm-openai:v1) is in ImagePullBackOff');
    expect(podsProblem([waiting('ErrImagePull')])?.reason).toBe('ImagePullFailed');
  });

  it('reports a crash loop with the restart count', () => {
    expect(podsProblem([waiting('CrashLoopBackOff')])?.message).toContain('restarted 4 times');
  });

  it('says nothing about a container that is merely starting', () => {
    expect(podsProblem([waiting('ContainerCreating')])).toBeUndefined();
  });
});

describe('deploymentProblem', () => {
  it('reports the ReplicaFailure the Deployment copied from its ReplicaSet', () => {
    const d: V1Deployment = {
      metadata: meta,
      status: {
        conditions: [
          {
            type: 'ReplicaFailure',
            status: 'True',
            reason: 'FailedCreate',
            message: 'pods "x" is forbidden: no PriorityClass with name urgent was found',
          },
        ],
      },
    };
    expect(deploymentProblem(d)).toEqual({
      reason: 'PodCreateFailed',
      message:
        'Deployment team-a/vision-pixtral-abc cannot create pods (FailedCreate): pods "x" is forbidden: no PriorityClass with name urgent was found',
    });
  });

  it('reports a rollout past its progress deadline', () => {
    const d: V1Deployment = {
      metadata: meta,
      status: {
        conditions: [
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' },
        ],
      },
    };
    expect(deploymentProblem(d)?.reason).toBe('ProgressDeadlineExceeded');
  });
});

describe('claimProblem', () => {
  const now = new Date('2026-12-01T10:00:30Z');
  const pvc = (created: string): V1PersistentVolumeClaim => ({
    metadata: { ...meta, creationTimestamp: new Date(created) },
    spec: { storageClassName: 'fast-ssd', accessModes: ['ReadWriteOnce'] },
    status: { phase: 'Pending' },
  });
  const event = (type: string, reason: string, message: string): CoreV1Event => ({
    metadata: {},
    involvedObject: {},
    type,
    reason,
    message,
    lastTimestamp: new Date('2026-12-01T10:00:20Z'),
  });

  it('reports a Warning at once, with the class and the Event', () => {
    const stall = claimProblem(
      pvc('2026-12-01T10:00:25Z'),
      [event('Warning', 'ProvisioningFailed', 'storageclass.storage.k8s.io "fast-ssd" not found')],
      now,
    );
    expect(stall?.reason).toBe('VolumePending');
    expect(stall?.message).toContain('storage class fast-ssd');
    expect(stall?.message).toContain('ProvisioningFailed: storageclass.storage.k8s.io "fast-ssd" not found');
  });

  it('gives a Normal Event (an external provisioner at work) a grace period', () => {
    const events = [event('Normal', 'ExternalProvisioning', 'Waiting for a volume to be created')];
    expect(claimProblem(pvc('2026-12-01T10:00:25Z'), events, now)).toBeUndefined();
    expect(claimProblem(pvc('2026-12-01T09:59:00Z'), events, now)?.message).toContain('ExternalProvisioning');
  });

  it('is quiet about a bound claim', () => {
    expect(
      claimProblem({ ...pvc('2026-12-01T09:00:00Z'), status: { phase: 'Bound' } }, [], now),
    ).toBeUndefined();
  });
});

describe('jobProblem', () => {
  it('reports a Job whose pod creation is refused', () => {
    const failed: CoreV1Event = {
      metadata: {},
      involvedObject: {},
      type: 'Warning',
      reason: 'FailedCreate',
      message: 'Error creating: pods "w" is forbidden: violates PodSecurity "restricted:latest"',
    };
    expect(jobProblem({ metadata: meta }, [], [failed])?.message).toContain('violates PodSecurity');
    expect(jobProblem({ metadata: meta }, [waiting('ContainerCreating')], [failed])).toBeUndefined();
  });
});
