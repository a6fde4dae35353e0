import {
  type AppsV1Api,
  BatchV1Api,
  type CoreV1Api,
  type CustomObjectsApi,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperatorConfigInput } from '../../operator/src/config.ts';
import { type ControlPlane, eventually, freshNamespace, untilQuiet } from '../harness/index.ts';
import { startE2eCluster } from './cluster.ts';
import { type InProcessOperator, startOperator } from './operator.ts';
import { PXD, type Pxds } from './pxd.ts';

const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';

const CONFIG: OperatorConfigInput = {
  baseDomain: 'inference.test',
  nodePools: {
    provider: 'karpenter',
    nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
  },
};

let cp: ControlPlane;
let kc: KubeConfig;
let operator: InProcessOperator;
let apps: AppsV1Api;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let pxds: Pxds;

beforeAll(async () => {
  ({ cp, kc, apps, core, custom, pxds } = await startE2eCluster({
    extraCrds: [
      'test/fixtures/crds/keda.sh_scaledobjects.yaml',
      'test/fixtures/crds/karpenter.sh_nodepools.yaml',
    ],
    h100: 6,
    h100x2: 2,
    volumes: 10,
  }));
  operator = await startOperator(kc, CONFIG);
});

afterAll(async () => {
  await operator?.stop();
  await cp?.stop();
});

async function nodePools(): Promise<
  {
    metadata: { name: string };
    spec: { template: { spec: { requirements: { key: string; values: string[] }[] } } };
  }[]
> {
  const list = (await custom.listClusterCustomObject({
    group: 'karpenter.sh',
    version: 'v1',
    plural: 'nodepools',
  })) as { items: never[] };
  return list.items;
}

describe('with KEDA and Karpenter installed', () => {
  it('keeps one Karpenter NodePool per node type in use and removes it when no deployment needs it', async () => {
    const ns = await freshNamespace(kc, 'pools');
    await pxds.create(ns, 'a', { nodeType: 'H100' });
    await pxds.create(ns, 'b', { nodeType: 'H100' });
    await pxds.create(ns, 'big', { nodeType: 'H100-2' });
    await Promise.all(['a', 'b', 'big'].map((n) => pxds.waitForPhase(ns, n, 'Ready')));
    const pools = await nodePools();
    expect(pools.map((p) => p.metadata.name).sort()).toEqual(['pixtral-h100', 'pixtral-h100-2']);
    const h100 = pools.find((p) => p.metadata.name === 'pixtral-h100');
    expect(h100?.spec.template.spec.requirements).toContainEqual(
      expect.objectContaining({ key: 'node.kubernetes.io/instance-type', values: ['H100-1-80G'] }),
    );
    expect((await pxds.read(ns, 'a')).metadata.finalizers).toContain('inference.pixtral.dev/node-pool');

    await pxds.remove(ns, 'big');
    await eventually(async () =>
      expect((await nodePools()).map((p) => p.metadata.name)).toEqual(['pixtral-h100']),
    );
    await eventually(async () =>
      expect(
        (await custom.listNamespacedCustomObject({ ...PXD, namespace: ns })) as { items: unknown[] },
      ).toMatchObject({ items: [{}, {}] }),
    );
    await pxds.remove(ns, 'a');
    await eventually(async () =>
      expect(
        (await custom.listNamespacedCustomObject({ ...PXD, namespace: ns })) as { items: unknown[] },
      ).toMatchObject({ items: [{}] }),
    );
    expect((await nodePools()).map((p) => p.metadata.name)).toEqual(['pixtral-h100']);
    await pxds.remove(ns, 'b');
    await eventually(async () => expect(await nodePools()).toEqual([]));
  });

  it('hands spec.replicas to a KEDA ScaledObject when maxSize > minSize, and takes it back when they match', async () => {
    const ns = await freshNamespace(kc, 'scale');
    await pxds.create(ns, 'elastic', { nodeType: 'H100', minSize: 1, maxSize: 3 });
    await pxds.waitForPhase(ns, 'elastic', 'Ready');
    const scaled = (await custom.getNamespacedCustomObject({
      group: 'keda.sh',
      version: 'v1alpha1',
      plural: 'scaledobjects',
      namespace: ns,
      name: 'elastic-pixtral',
    })) as {
      spec: { minReplicaCount: number; maxReplicaCount: number; scaleTargetRef: { name: string } };
    };
    expect(scaled.spec).toMatchObject({
      minReplicaCount: 1,
      maxReplicaCount: 3,
      scaleTargetRef: { name: 'elastic-pixtral' },
    });
    // The autoscaler scales out; the operator must not fight it.
    await cp.kubectl(['scale', '-n', ns, 'deployment/elastic-pixtral', '--replicas=2']);
    await custom.patchNamespacedCustomObject({
      ...PXD,
      namespace: ns,
      name: 'elastic',
      body: [{ op: 'add', path: '/metadata/labels', value: { touched: 'yes' } }],
    });
    await eventually(async () => expect((await pxds.read(ns, 'elastic')).status?.readyReplicas).toBe(2));
    await new Promise((r) => setTimeout(r, 2000));
    expect(
      (await apps.readNamespacedDeployment({ namespace: ns, name: 'elastic-pixtral' })).spec?.replicas,
    ).toBe(2);

    await custom.patchNamespacedCustomObject({
      ...PXD,
      namespace: ns,
      name: 'elastic',
      body: [{ op: 'replace', path: '/spec/maxSize', value: 1 }],
    });
    await eventually(async () => {
      const list = (await custom.listNamespacedCustomObject({
        group: 'keda.sh',
        version: 'v1alpha1',
        plural: 'scaledobjects',
        namespace: ns,
      })) as { items: unknown[] };
      expect(list.items).toEqual([]);
      expect(
        (await apps.readNamespacedDeployment({ namespace: ns, name: 'elastic-pixtral' })).spec?.replicas,
      ).toBe(1);
    });
    await pxds.remove(ns, 'elastic');
  });

  it('reaches the sidecars with added and removed API keys without restarting pods', async () => {
    const ns = await freshNamespace(kc, 'keys');
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'team-keys' }, stringData: { alice: 'pxd_alice-key' } },
    });
    await pxds.create(ns, 'keyed', { nodeType: 'H100', apiKeys: { secretName: 'team-keys' } });
    await pxds.waitForPhase(ns, 'keyed', 'Ready');
    const hashes = async () =>
      Buffer.from(
        (await core.readNamespacedSecret({ namespace: ns, name: 'keyed-api-key-hashes' })).data?.hashes ?? '',
        'base64',
      ).toString();
    expect(await hashes()).toMatch(/^alice:[0-9a-f]{64}\n?$/);
    expect(await hashes()).not.toContain('pxd_alice-key');
    const [podBefore] = (
      await core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/instance=keyed' })
    ).items;
    await core.patchNamespacedSecret({
      namespace: ns,
      name: 'team-keys',
      body: [
        { op: 'add', path: '/data/bob', value: Buffer.from('pxd_bob-key').toString('base64') },
        { op: 'remove', path: '/data/alice' },
      ],
    });
    await eventually(async () => expect(await hashes()).toMatch(/^bob:[0-9a-f]{64}\n?$/));
    const [podAfter] = (
      await core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/instance=keyed' })
    ).items;
    expect(podAfter?.metadata?.uid).toBe(podBefore?.metadata?.uid);
    await pxds.remove(ns, 'keyed');
  });

  it('writes nothing in steady state once Ready', async () => {
    const ns = await freshNamespace(kc, 'steady');
    await pxds.create(ns, 'calm', { nodeType: 'H100', endpoints: { public: {}, private: {} } });
    await pxds.waitForPhase(ns, 'calm', 'Ready');
    // Earlier tests' deletions may still be finishing in the shared operator.
    const before = await untilQuiet(() => operator.manager.metrics.apiWriteCount(), { quietMs: 3_000 });
    await new Promise((r) => setTimeout(r, 10_000));
    expect(await operator.manager.metrics.apiWriteCount()).toBe(before);
    await pxds.remove(ns, 'calm');
  });
});

describe('a weights Job that fails', () => {
  let failing: InProcessOperator;
  beforeAll(async () => {
    await operator.stop();
    failing = await startOperator(kc, {
      ...CONFIG,
      weights: { podLabels: { [FAIL_LABEL]: 'true' }, retryBaseSeconds: 3, jobBackoffLimit: 0 },
    });
  });
  afterAll(async () => {
    await failing.stop();
    operator = await startOperator(kc, CONFIG);
  });

  it('puts the deployment in Error with the reason, then retries with a fresh Job after the backoff', async () => {
    const ns = await freshNamespace(kc, 'fail');
    await pxds.create(ns, 'broken', { nodeType: 'H100' });
    const failed = await pxds.waitForPhase(ns, 'broken', 'Error');
    const weightsReady = failed.status?.conditions?.find((c) => c.type === 'WeightsReady');
    expect(weightsReady).toMatchObject({ status: 'False', reason: 'WeightsFailed' });
    expect(weightsReady?.message).toMatch(/Weights Job weights-[0-9a-f]+ failed/);
    expect(failed.status?.weights?.attempts).toBe(1);
    const jobs = kc.makeApiClient(BatchV1Api);
    const firstJob = (await jobs.listNamespacedJob({ namespace: ns })).items[0]?.metadata?.uid;
    await eventually(
      async () => {
        const cr = await pxds.read(ns, 'broken');
        expect(cr.status?.weights?.attempts).toBeGreaterThanOrEqual(2);
        expect(
          (await jobs.listNamespacedJob({ namespace: ns })).items.map((j) => j.metadata?.uid),
        ).not.toContain(firstJob);
      },
      { timeoutMs: 60_000 },
    );
    expect((await apps.listNamespacedDeployment({ namespace: ns })).items).toEqual([]);
    await pxds.remove(ns, 'broken');
  });
});
