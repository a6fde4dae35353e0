import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { appliedBy } from './applied-fields.ts';
import { needsApply } from './apply.ts';
import { trimForCache } from './cache-transform.ts';

const applied = {
  manager: 'pixtral-operator',
  operation: 'Apply',
  apiVersion: 'apps/v1',
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:spec': { 'f:replicas': {} } },
};
const controllerStatus = {
  manager: 'kube-controller-manager',
  operation: 'Update',
  subresource: 'status',
  apiVersion: 'apps/v1',
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:status': { 'f:replicas': {}, 'f:readyReplicas': {} } },
};

function deployment(): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'ns',
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': '{"a big":"copy"}',
        'pixtral.dev/keep': 'yes',
      },
      managedFields: [applied, controllerStatus],
    },
    spec: {
      replicas: 1,
      selector: {},
      template: { spec: { containers: [{ name: 'c', image: 'i', env: [] }] } },
    },
    status: { replicas: 1, readyReplicas: 1 },
  };
}

describe('trimForCache', () => {
  it('drops managedFields and keeps our applies as a digest beside the object', () => {
    const trimmed = trimForCache(deployment());
    expect(trimmed.metadata).not.toHaveProperty('managedFields');
    expect(appliedBy(trimmed, 'pixtral-operator')?.paths).toEqual(['spec.replicas']);
    expect(appliedBy(trimmed, 'kube-controller-manager', 'status')).toBeUndefined();
  });

  it("drops kubectl's last-applied copy and keeps every other annotation", () => {
    expect(trimForCache(deployment()).metadata?.annotations).toEqual({ 'pixtral.dev/keep': 'yes' });
  });

  it('leaves the input as it was (a store never shares a half-trimmed object)', () => {
    const object = deployment();
    trimForCache(object);
    expect(object).toEqual(deployment());
  });

  it('keeps what decides whether an apply is needed: a trimmed copy answers as the full one', () => {
    const desired = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'ns' },
      spec: { replicas: 1 },
    };
    const full = deployment();
    expect(needsApply(desired, trimForCache(full), 'pixtral-operator', '')).toBe(
      needsApply(desired, full, 'pixtral-operator', ''),
    );
    expect(
      needsApply(
        { ...desired, spec: { replicas: 2 } } as V1Deployment,
        trimForCache(full),
        'pixtral-operator',
        '',
      ),
    ).toBe(true);
  });

  it("keeps of a pod what the stall readers look at: containers' names, images and states, the node, phase and conditions", () => {
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'ns', labels: { app: 'x' } },
      spec: {
        nodeName: 'gpu-1',
        initContainers: [{ name: 'init', image: 'busybox', command: ['true'] }],
        containers: [
          {
            name: 'sidecar',
            image: 'runtime:1',
            env: [{ name: 'A', value: 'b' }],
            ports: [{ containerPort: 8080 }],
          },
        ],
        volumes: [{ name: 'weights', persistentVolumeClaim: { claimName: 'w' } }],
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }],
      },
      status: {
        phase: 'Running',
        podIP: '10.0.0.7',
        startTime: new Date('2026-12-07T10:00:00Z'),
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: new Date('2026-12-07T10:00:00Z') },
        ],
        containerStatuses: [
          {
            name: 'sidecar',
            image: 'runtime:1',
            imageID: 'sha256:abc',
            containerID: 'containerd://1',
            ready: false,
            restartCount: 2,
            started: false,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
            lastState: { terminated: { exitCode: 3, message: 'report' } },
          },
        ],
      },
    };
    const trimmed = trimForCache(pod);
    expect(trimmed.spec).toEqual({
      nodeName: 'gpu-1',
      initContainers: [{ name: 'init', image: 'busybox' }],
      containers: [{ name: 'sidecar', image: 'runtime:1' }],
    });
    expect(trimmed.status).toEqual({
      phase: 'Running',
      conditions: [{ type: 'PodScheduled', status: 'True' }],
      containerStatuses: [
        {
          name: 'sidecar',
          image: 'runtime:1',
          ready: false,
          restartCount: 2,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
          lastState: { terminated: { exitCode: 3, message: 'report' } },
        },
      ],
    });
    expect(trimmed.metadata?.labels).toEqual({ app: 'x' });
  });

  it("keeps of a Deployment's spec all but its pod template (the apply digest stands for it)", () => {
    const { template: _template, ...spec } = deployment().spec!;
    expect(trimForCache(deployment()).spec).toEqual(spec);
  });

  it('keeps only the metadata of Services and PodDisruptionBudgets, which are read for their controller', () => {
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 's',
        namespace: 'ns',
        ownerReferences: [{ apiVersion: 'x/v1', kind: 'X', name: 'x', uid: 'u' }],
      },
      spec: { clusterIP: '10.96.0.9', ports: [{ port: 80 }] },
      status: { loadBalancer: {} },
    };
    expect(trimForCache(service)).toEqual({ apiVersion: 'v1', kind: 'Service', metadata: service.metadata });
  });

  it('leaves the spec of other kinds whole', () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j' },
      spec: { template: { spec: { containers: [] } } },
    };
    expect(trimForCache(job)).toEqual(job);
  });
});
