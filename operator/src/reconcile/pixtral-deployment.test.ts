/**
 * Table tests of the PixtralDeployment reconciler: given objects in (in-memory caches), one
 * reconcile, then the applies, deletes, status and Events it sent. The same branches run against
 * a real API server in test/e2e; here each runs in milliseconds.
 */
import type { CoreV1Event, KubernetesObject, V1Deployment, V1Job, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../../runtime-image/src/provisioner/errors.ts';
import { anOperatorConfig, aPixtralDeployment } from '../../../test/fixtures/pixtral-deployment.ts';
import { World } from '../../../test/fixtures/reconcile-world.ts';
import { REPLICAS_HANDOFF_MANAGER } from '../builders/deployment.ts';
import { NODE_POOL_FINALIZER } from './finalize.ts';

const NOW = new Date('2026-12-01T10:00:00Z');
const cr = aPixtralDeployment();
const ownedByCr = [
  {
    apiVersion: cr.apiVersion,
    kind: cr.kind,
    name: cr.metadata.name ?? '',
    uid: String(cr.metadata.uid),
    controller: true,
  },
];

/** `obj` with `status` as the cluster would report it. */
const withStatus = <T extends KubernetesObject>(obj: T, status: unknown): T => ({ ...obj, status }) as T;

const jobDone = (job: V1Job, type: 'Complete' | 'Failed', at: string, reason?: string): V1Job =>
  withStatus(job, { conditions: [{ type, status: 'True', lastTransitionTime: at, reason }] });

const readyDeployment = (d: V1Deployment): V1Deployment =>
  withStatus(d, {
    observedGeneration: d.metadata?.generation ?? 0,
    replicas: 1,
    updatedReplicas: 1,
    readyReplicas: 1,
    availableReplicas: 1,
  });

/** A world where the weights are verified and the Deployment exists: the next reconcile deploys. */
async function withWeightsReady(world: World): Promise<void> {
  await world.reconcile();
  const job = world.find<V1Job>('Job', 'weights-');
  world.set(jobDone(job, 'Complete', '2026-12-01T09:59:00Z'));
  await world.reconcile();
}

function servingPod(state: Partial<V1Pod['status']>, name = 'vision-pixtral-abc'): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'team-a',
      labels: { 'app.kubernetes.io/instance': 'vision', 'app.kubernetes.io/component': 'server' },
    },
    spec: { containers: [{ name: 'vllm', image: 'vllm/vllm-openai:v1' }] },
    status: state,
  };
}

/** A pod of the weights Job `job`, as the Job controller labels it. */
function weightsPod(job: V1Job, status: V1Pod['status'], name = `${job.metadata?.name}-x`): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'team-a',
      labels: { 'job-name': job.metadata?.name ?? '', 'app.kubernetes.io/component': 'weights-provisioner' },
    },
    status,
  };
}

/** The serving Deployment with one condition in its status, as the Deployment controller writes it. */
function withDeploymentCondition(world: World, condition: { type: string; reason: string; message: string }) {
  const d = world.get<V1Deployment>('Deployment', 'vision-pixtral');
  const status = condition.type === 'Progressing' ? 'False' : 'True';
  world.set(withStatus(d, { conditions: [{ ...condition, status }] }));
}

function event(regarding: KubernetesObject, type: string, reason: string, message: string): CoreV1Event {
  return {
    metadata: { name: `${regarding.metadata?.name}.1`, namespace: 'team-a' },
    involvedObject: { uid: regarding.metadata?.uid },
    type,
    reason,
    message,
    lastTimestamp: new Date('2026-12-01T09:59:30Z'),
  };
}

describe('PixtralDeploymentReconciler: the way to Ready', () => {
  it('goes ProvisioningWeights, Deploying, Ready, with an Event per phase, then writes nothing', async () => {
    const world = new World({ cr, now: NOW });

    expect(await world.reconcile()).toMatchObject({ kind: 'requeueAfter' });
    expect(world.status?.phase).toBe('ProvisioningWeights');
    expect(world.applied()).toEqual([
      expect.stringMatching(/^PersistentVolumeClaim\/weights-/),
      expect.stringMatching(/^Job\/weights-/),
      'Secret/vision-api-key-hashes',
      'Service/vision-pixtral',
      'PodDisruptionBudget/vision-pixtral',
    ]);
    // vLLM must never start on missing files: no Deployment before the weights are verified.
    expect(world.applied().some((a) => a.startsWith('Deployment/'))).toBe(false);

    const job = world.find<V1Job>('Job', 'weights-');
    world.set({
      ...job,
      status: { active: 1 },
    });
    world.set(weightsPod(job, { phase: 'Running' }));
    world.clear();
    await world.reconcile();
    expect(world.status?.phase).toBe('ProvisioningWeights');

    world.set(jobDone(world.get<V1Job>('Job', job.metadata?.name ?? ''), 'Complete', '2026-12-01T09:59:00Z'));
    world.clear();
    await world.reconcile();
    expect(world.status?.phase).toBe('Deploying');
    expect(world.applied()).toEqual(['Deployment/vision-pixtral']);

    world.set(readyDeployment(world.get<V1Deployment>('Deployment', 'vision-pixtral')));
    world.clear();
    expect(await world.reconcile()).toEqual({ kind: 'done' });
    expect(world.status?.phase).toBe('Ready');
    expect(world.condition('Ready')).toMatchObject({ status: 'True' });
    expect(world.events).toEqual([
      { type: 'Normal', reason: 'PhaseReady', note: expect.stringContaining('1 replica(s) serving') },
    ]);

    world.clear();
    await world.reconcile();
    expect({ applies: world.applies, statuses: world.statuses, events: world.events }).toEqual({
      applies: [],
      statuses: [],
      events: [],
    });
  });
});

describe('PixtralDeploymentReconciler: changes', () => {
  it('repairs a child someone edited, and only that child', async () => {
    const world = new World({ cr });
    await withWeightsReady(world);
    const service = world.get<KubernetesObject & { spec: { ports: unknown[] } }>('Service', 'vision-pixtral');
    world.set({ ...service, spec: { ...service.spec, ports: [] } });
    world.clear();
    await world.reconcile();
    expect(world.applied()).toEqual(['Service/vision-pixtral']);
  });

  it('rolls the Deployment when maxContextLength changes', async () => {
    const world = new World({ cr });
    await withWeightsReady(world);
    const changed = new World({
      cr: aPixtralDeployment({ maxContextLength: 8192 }),
      objects: [...allOf(world), world.get('Deployment', 'vision-pixtral')],
    });
    await changed.reconcile();
    expect(changed.applied()).toEqual(['Deployment/vision-pixtral']);
    expect(JSON.stringify(changed.applies[0]?.object)).toContain('8192');
  });

  it('writes nothing to the shared weights cache on its own behalf', async () => {
    const first = new World({ cr });
    await first.reconcile();
    const other = aPixtralDeployment({}, { name: 'other', uid: '11111111-2222-4333-8444-555555555555' });
    const second = new World({
      cr: other,
      objects: [cr, first.find('PersistentVolumeClaim', 'weights-'), first.find('Job', 'weights-')],
    });
    await second.reconcile();
    expect(second.applied().filter((a) => /^(PersistentVolumeClaim|Job)\//.test(a))).toEqual([]);
    expect(second.status?.phase).toBe('ProvisioningWeights');
  });
});

describe('PixtralDeploymentReconciler: API keys', () => {
  it('generates a key Secret once and says how to print it', async () => {
    const world = new World({ cr });
    await world.reconcile();
    expect(world.creates.map((c) => `${c.kind}/${c.metadata?.name}`)).toEqual(['Secret/vision-api-keys']);
    expect(world.events[0]).toMatchObject({
      reason: 'ApiKeyGenerated',
      note: expect.stringContaining('kubectl get secret vision-api-keys'),
    });

    world.clear();
    await world.reconcile();
    expect(world.creates).toEqual([]);
  });

  it('uses a user-named Secret as it is, creating none', async () => {
    const named = aPixtralDeployment({ apiKeys: { secretName: 'team-keys' } });
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'team-keys', namespace: 'team-a' },
      data: { alice: Buffer.from('sk-alice').toString('base64') },
    };
    const world = new World({ cr: named, objects: [secret] });
    await world.reconcile();
    expect(world.creates).toEqual([]);
    const hashes = world.applies.find((a) => a.name === 'vision-api-key-hashes')?.object as {
      data: { hashes: string };
    };
    expect(Buffer.from(hashes.data.hashes, 'base64').toString()).toContain('alice');
    expect(world.events.map((e) => e.reason)).not.toContain('ApiKeyGenerated');
  });
});

describe('PixtralDeploymentReconciler: weights', () => {
  it('counts a failed Job, waits out the backoff, then deletes it so a fresh one is made', async () => {
    const world = new World({ cr, now: NOW });
    await world.reconcile();
    const job = world.find<V1Job>('Job', 'weights-');
    world.set(jobDone(job, 'Failed', '2026-12-01T09:59:50Z', 'BackoffLimitExceeded'));
    world.clear();
    const waiting = await world.reconcile();
    expect(world.status?.phase).toBe('Error');
    expect(world.status?.weights).toMatchObject({ attempts: 1 });
    // Looked at again before the backoff (30 s after the failure) passes: nothing deleted yet.
    expect(waiting).toMatchObject({ kind: 'requeueAfter' });
    expect((waiting as { ms: number }).ms).toBeLessThanOrEqual(20_000);
    expect(world.deletes).toEqual([]);

    const later = new World({
      cr: world.get('PixtralDeployment', 'vision'),
      objects: [world.get('Job', job.metadata?.name ?? ''), world.find('PersistentVolumeClaim')],
      now: new Date('2026-12-01T10:01:00Z'),
    });
    await later.reconcile();
    expect(later.deletes).toEqual([{ kind: 'Job', name: job.metadata?.name }]);
  });

  it('stops in Error on a digest mismatch and never retries it', async () => {
    const world = new World({ cr, now: NOW });
    await world.reconcile();
    const job = world.find<V1Job>('Job', 'weights-');
    world.set(jobDone(job, 'Failed', '2026-12-01T09:59:50Z', 'PodFailurePolicy'));
    const report = {
      code: 'DigestMismatch',
      retry: 'terminal',
      file: 'params.json',
      expected: `git-blob-sha1:${'a'.repeat(40)}`,
      got: `git-blob-sha1:${'b'.repeat(40)}`,
      message: 'Provisioning failed: params.json: git blob SHA-1 mismatch',
    };
    world.set(
      weightsPod(job, {
        containerStatuses: [
          {
            name: 'provisioner',
            image: 'x',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: EXIT_CODES.digest, message: JSON.stringify(report) } },
          },
        ],
      }),
    );
    world.clear();
    await world.reconcile();
    expect(world.status?.phase).toBe('Error');
    expect(world.condition('WeightsReady')).toMatchObject({ reason: 'WeightsDigestMismatch' });
    expect(world.condition('WeightsReady')?.message).toContain('b'.repeat(40));

    world.clear();
    await world.reconcile();
    expect(world.deletes).toEqual([]);
  });
});

describe('PixtralDeploymentReconciler: autoscaling', () => {
  const scaling = aPixtralDeployment({ minSize: 1, maxSize: 3 });

  it('without KEDA applies no ScaledObject and says what to do', async () => {
    const world = new World({
      cr: scaling,
      integrations: { keda: { available: false, why: 'not-installed' } },
    });
    await world.reconcile();
    expect(world.applied().some((a) => a.startsWith('ScaledObject/'))).toBe(false);
    expect(world.condition('Degraded')).toMatchObject({
      status: 'True',
      reason: 'IntegrationMissing',
      message: expect.stringContaining('needs KEDA'),
    });
    expect(world.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'IntegrationMissing' }),
    );
  });

  it('with KEDA applies a ScaledObject and leaves spec.replicas to it', async () => {
    const world = new World({ cr: scaling });
    await withWeightsReady(world);
    expect(world.applied()).toContain('ScaledObject/vision-pixtral');
    const deployment = world.applies.find((a) => a.kind === 'Deployment')?.object as V1Deployment;
    expect(deployment.spec?.replicas).toBeUndefined();
  });

  it('hands the live replica count over when autoscaling turns on, so pods are not scaled down', async () => {
    const world = new World({ cr });
    await withWeightsReady(world);
    const fixed = world.get<V1Deployment>('Deployment', 'vision-pixtral');
    expect(fixed.spec?.replicas).toBe(1);

    const turnedOn = new World({ cr: scaling, objects: [...allOf(world), withStatus(fixed, fixed.status)] });
    await turnedOn.reconcile();
    const handoff = turnedOn.applies.find((a) => a.manager === REPLICAS_HANDOFF_MANAGER);
    expect(handoff).toMatchObject({ kind: 'Deployment', object: { spec: { replicas: 1 } } });
  });
});

describe('PixtralDeploymentReconciler: autoscaling turned off', () => {
  it('deletes the ScaledObject it no longer asks for', async () => {
    const world = new World({ cr: aPixtralDeployment({ minSize: 1, maxSize: 3 }) });
    await withWeightsReady(world);
    const scaledObject = world.get('ScaledObject', 'vision-pixtral');
    const off = new World({
      cr,
      objects: [{ ...scaledObject, metadata: { ...scaledObject.metadata, ownerReferences: ownedByCr } }],
    });
    await off.reconcile();
    expect(off.deletes).toEqual([{ kind: 'ScaledObject', name: 'vision-pixtral' }]);
  });
});

describe('PixtralDeploymentReconciler: children it may not touch', () => {
  it('leaves a Service it does not control untouched and says why', async () => {
    const theirs = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'vision-pixtral', namespace: 'team-a', uid: 'theirs' },
    };
    const world = new World({ cr, uncached: [theirs] });
    await world.reconcile();
    expect(world.applied()).not.toContain('Service/vision-pixtral');
    expect(world.condition('Degraded')).toMatchObject({
      status: 'True',
      reason: 'AlreadyOwned',
      message: expect.stringContaining('Service team-a/vision-pixtral exists and has no controller'),
    });
    expect(world.status?.phase).toBe('Error');
  });

  it('leaves a Deployment controlled by another owner alone', async () => {
    const theirs = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'vision-pixtral',
        namespace: 'team-a',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'other', uid: 'o', controller: true }],
      },
    };
    const world = new World({ cr, objects: [theirs] });
    await withWeightsReady(world);
    expect(world.applied()).not.toContain('Deployment/vision-pixtral');
    expect(world.condition('Degraded')?.message).toContain('is controlled by ConfigMap other');
  });

  it('puts a write the API server refuses for good in status, and applies the rest', async () => {
    const world = new World({
      cr,
      refuse: { kind: 'Service', name: 'vision-pixtral', code: 403, message: 'denied by policy no-services' },
    });
    await world.reconcile();
    expect(world.applied()).toContain('PodDisruptionBudget/vision-pixtral');
    expect(world.condition('Degraded')).toMatchObject({
      reason: 'ApplyFailed',
      message: expect.stringContaining('denied by policy no-services (403 Invalid)'),
    });
  });

  it('throws a refusal that may pass (500), so the work queue retries it', async () => {
    const world = new World({
      cr,
      refuse: { kind: 'Service', name: 'vision-pixtral', code: 500, message: 'etcd timeout' },
    });
    await expect(world.reconcile()).rejects.toMatchObject({ retry: 'transient' });
  });

  it('deletes the Ingress when the public endpoint is removed', async () => {
    const world = new World({ cr: aPixtralDeployment({ endpoints: { public: {}, private: {} } }) });
    await world.reconcile();
    expect(world.applied()).toContain('Ingress/vision-pixtral');
    const ingress = world.get('Ingress', 'vision-pixtral');
    const again = new World({
      cr,
      objects: [{ ...ingress, metadata: { ...ingress.metadata, ownerReferences: ownedByCr } }],
    });
    await again.reconcile();
    expect(again.deletes).toEqual([{ kind: 'Ingress', name: 'vision-pixtral' }]);
  });
});

describe('PixtralDeploymentReconciler: stalls show in status and as an Event', () => {
  const cases: {
    name: string;
    setUp: (world: World) => Promise<CoreV1Event[]>;
    reason: string;
    says: string;
  }[] = [
    {
      name: 'a claim whose StorageClass does not exist',
      setUp: async (world) => {
        await world.reconcile();
        const pvc = world.find('PersistentVolumeClaim');
        world.set(withStatus(pvc, { phase: 'Pending' }));
        return [
          event(pvc, 'Warning', 'ProvisioningFailed', 'storageclass.storage.k8s.io "fast-ssd" not found'),
        ];
      },
      reason: 'VolumePending',
      says: 'storageclass.storage.k8s.io "fast-ssd" not found',
    },
    {
      name: 'a Job pod waiting for a volume no node can bind, once the PV controller waits for it',
      setUp: async (world) => {
        await world.reconcile();
        const pvc = world.find('PersistentVolumeClaim');
        const job = world.find<V1Job>('Job', 'weights-');
        world.set(withStatus(pvc, { phase: 'Pending' }));
        world.set(
          weightsPod(job, {
            phase: 'Pending',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message:
                  "0/6 nodes are available: 6 node(s) didn't find available persistent volumes to bind.",
              },
            ],
          }),
        );
        return [event(pvc, 'Normal', 'WaitForPodScheduled', 'waiting for pod team-a/x to be scheduled')];
      },
      reason: 'Unschedulable',
      says: 'persistent volumes to bind',
    },
    {
      name: 'a Job that may not create its pod (ResourceQuota)',
      setUp: async (world) => {
        await world.reconcile();
        const job = world.find('Job', 'weights-');
        return [event(job, 'Warning', 'FailedCreate', 'exceeded quota: pods, requested: pods=1')];
      },
      reason: 'PodCreateFailed',
      says: 'exceeded quota',
    },
    {
      name: 'serving pods with no free GPU',
      setUp: async (world) => {
        await withWeightsReady(world);
        world.set(
          servingPod({
            phase: 'Pending',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.',
              },
            ],
          }),
        );
        return [];
      },
      reason: 'InsufficientGPU',
      says: 'Insufficient nvidia.com/gpu',
    },
    {
      name: 'an image that cannot be pulled',
      setUp: async (world) => {
        await withWeightsReady(world);
        world.set(
          servingPod({
            containerStatuses: [
              {
                name: 'vllm',
                image: 'vllm/vllm-openai:v1',
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } },
              },
            ],
          }),
        );
        return [];
      },
      reason: 'ImagePullFailed',
      says: 'container vllm (image vllm/vllm-openai:v1) is in ImagePullBackOff',
    },
    {
      name: 'a ReplicaSet that cannot create pods',
      setUp: async (world) => {
        await withWeightsReady(world);
        withDeploymentCondition(world, {
          type: 'ReplicaFailure',
          reason: 'FailedCreate',
          message: 'pods "x" is forbidden: no PriorityClass with name urgent was found',
        });
        return [];
      },
      reason: 'PodCreateFailed',
      says: 'no PriorityClass with name urgent',
    },
    {
      name: 'a rollout past its progress deadline',
      setUp: async (world) => {
        await withWeightsReady(world);
        withDeploymentCondition(world, {
          type: 'Progressing',
          reason: 'ProgressDeadlineExceeded',
          message: 'too slow',
        });
        return [];
      },
      reason: 'ProgressDeadlineExceeded',
      says: 'too slow',
    },
  ];

  for (const c of cases) {
    it(`says ${c.reason} for ${c.name}`, async () => {
      const events: CoreV1Event[] = [];
      const world = new World({ cr, now: NOW, events });
      events.push(...(await c.setUp(world)));
      world.clear();
      await world.reconcile();
      expect(world.condition('Degraded')).toMatchObject({
        status: 'True',
        reason: c.reason,
        message: expect.stringContaining(c.says),
      });
      expect(world.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: c.reason }));
    });
  }
});

describe('PixtralDeploymentReconciler: Karpenter node pools', () => {
  const config = anOperatorConfig({
    nodePools: {
      provider: 'karpenter',
      nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
    },
  });

  it('adds its finalizer and applies the node pool of its node type', async () => {
    const world = new World({ cr, config });
    await world.reconcile();
    expect(world.finalizersAdded).toEqual([NODE_POOL_FINALIZER]);
    expect(world.applied()).toContainEqual(expect.stringMatching(/^NodePool\//));
  });

  it('when deleted, removes the node pool no other deployment needs', async () => {
    const world = new World({ cr, config });
    await world.reconcile();
    const pool = world.find('NodePool');
    const deleting = {
      ...cr,
      metadata: { ...cr.metadata, deletionTimestamp: NOW, finalizers: [NODE_POOL_FINALIZER] },
    };
    const gone = new World({ cr: deleting, config, objects: [pool] });
    await gone.reconcile();
    expect(gone.deletes).toEqual([{ kind: 'NodePool', name: pool.metadata?.name }]);
    expect(gone.status?.phase).toBe('Deleting');
  });
});

/** Every cached object of a world but its PixtralDeployment, to seed the next world. */
function allOf(world: World): KubernetesObject[] {
  return ['PersistentVolumeClaim', 'Job', 'Secret', 'Service', 'PodDisruptionBudget'].flatMap((kind) => {
    try {
      return world.list(kind);
    } catch {
      return [];
    }
  });
}
