import { join } from 'node:path';
import {
  type AppsV1Api,
  BatchV1Api,
  type CoreV1Api,
  type CustomObjectsApi,
  EventsV1Api,
  type KubeConfig,
  NetworkingV1Api,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, eventually, freshNamespace } from '../harness/index.ts';
import { startE2eCluster } from './cluster.ts';
import { type InProcessOperator, spawnOperator, startOperator } from './operator.ts';
import { PXD, type Pxds } from './pxd.ts';

let cp: ControlPlane;
let kc: KubeConfig;
let operator: InProcessOperator;
let apps: AppsV1Api;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let pxds: Pxds;

beforeAll(async () => {
  ({ cp, kc, apps, core, custom, pxds } = await startE2eCluster({ h100: 8, h100x2: 2, volumes: 12 }));
  operator = await startOperator(kc, { baseDomain: 'inference.test' });
});

afterAll(async () => {
  await operator?.stop();
  await cp?.stop();
});

async function servingPods(namespace: string, name: string) {
  return (
    await core.listNamespacedPod({
      namespace,
      labelSelector: `app.kubernetes.io/instance=${name},app.kubernetes.io/component=server`,
    })
  ).items;
}

describe('a PixtralDeployment', () => {
  it('goes Creating, ProvisioningWeights, Deploying, Ready, and kubectl wait returns', async () => {
    const ns = await freshNamespace(kc, 'e2e');
    await pxds.create(ns, 'vision', { nodeType: 'H100', endpoints: { public: {}, private: {} } });
    const wait = await cp.kubectl(['wait', '--for=condition=Ready', `pxd/vision`, '-n', ns, '--timeout=90s']);
    expect(wait.code, wait.stderr).toBe(0);
    const cr = await pxds.read(ns, 'vision');
    expect(cr.status?.uuid).toBe(cr.metadata.uid);
    expect(cr.status?.endpoints?.public).toBe(`https://${cr.metadata.uid}.inference.test/v1`);
    expect(cr.status?.readyReplicas).toBe(1);
    expect(cr.status?.weights?.digest).toMatch(/^sha256:/);
    const events = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items
      .filter((e) => e.regarding?.name === 'vision' && e.reason?.startsWith('Phase'))
      .sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)))
      .map((e) => e.reason);
    // Creating shows only when the first look comes before the weights-cache controller's Job.
    expect(events.filter((e) => e !== 'PhaseCreating')).toEqual([
      'PhaseProvisioningWeights',
      'PhaseDeploying',
      'PhaseReady',
    ]);
    expect(events.indexOf('PhaseCreating')).toBeLessThanOrEqual(0);
    const ingress = await kc
      .makeApiClient(NetworkingV1Api)
      .readNamespacedIngress({ namespace: ns, name: 'vision-pixtral' });
    expect(ingress.spec?.rules?.[0]?.host).toBe(`${cr.metadata.uid}.inference.test`);
    const keys = await core.readNamespacedSecret({ namespace: ns, name: 'vision-api-keys' });
    expect(Buffer.from(Object.values(keys.data ?? {})[0] ?? '', 'base64').toString()).toMatch(/^pxd_/);
  });

  it('puts an H100-2 deployment only on 2-GPU nodes, with tensor parallel 2', async () => {
    const ns = await freshNamespace(kc, 'e2e');
    await pxds.create(ns, 'big', { nodeType: 'H100-2' });
    await pxds.waitForPhase(ns, 'big', 'Ready');
    const [pod] = await servingPods(ns, 'big');
    const node = await core.readNode({ name: pod?.spec?.nodeName as string });
    expect(node.metadata?.labels?.['node.kubernetes.io/instance-type']).toBe('H100-2-80G');
    const vllm = pod?.spec?.containers.find((c) => c.name === 'vllm');
    expect(vllm?.resources?.limits?.['nvidia.com/gpu']).toBe('2');
    expect(vllm?.args?.join(' ')).toContain('--tensor-parallel-size 2');
  });

  it('repairs a deleted or edited child', async () => {
    const ns = await freshNamespace(kc, 'e2e');
    await pxds.create(ns, 'repair', { nodeType: 'H100' });
    await pxds.waitForPhase(ns, 'repair', 'Ready');
    const service = await core.readNamespacedService({ namespace: ns, name: 'repair-pixtral' });
    await core.deleteNamespacedService({ namespace: ns, name: 'repair-pixtral' });
    await eventually(async () => {
      const again = await core.readNamespacedService({ namespace: ns, name: 'repair-pixtral' });
      expect(again.metadata?.uid).not.toBe(service.metadata?.uid);
    });
    await apps.patchNamespacedDeployment({
      namespace: ns,
      name: 'repair-pixtral',
      body: [
        {
          op: 'replace',
          path: '/spec/template/spec/containers/0/image',
          value: 'registry.invalid/tampered:1',
        },
      ],
    });
    await eventually(async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'repair-pixtral' });
      expect(d.spec?.template.spec?.containers.map((c) => c.image)).not.toContain(
        'registry.invalid/tampered:1',
      );
    });
  });

  it('rolls the pods with the new flag when maxContextLength changes', async () => {
    const ns = await freshNamespace(kc, 'e2e');
    await pxds.create(ns, 'ctx', { nodeType: 'H100' });
    await pxds.waitForPhase(ns, 'ctx', 'Ready');
    const before = (await servingPods(ns, 'ctx')).map((p) => p.metadata?.name);
    await custom.patchNamespacedCustomObject({
      ...PXD,
      namespace: ns,
      name: 'ctx',
      body: [{ op: 'add', path: '/spec/maxContextLength', value: 65536 }],
    });
    await eventually(
      async () => {
        const pods = (await servingPods(ns, 'ctx')).filter((p) => !p.metadata?.deletionTimestamp);
        expect(pods).toHaveLength(1);
        expect(before).not.toContain(pods[0]?.metadata?.name);
        expect(pods[0]?.spec?.containers.find((c) => c.name === 'vllm')?.args?.join(' ')).toContain(
          '--max-model-len 65536',
        );
        expect(pods[0]?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      },
      { timeoutMs: 90_000 },
    );
    await pxds.waitForPhase(ns, 'ctx', 'Ready');
  });

  it('shares one weights cache between two deployments and releases it after both are deleted', async () => {
    const ns = await freshNamespace(kc, 'e2e');
    await pxds.create(ns, 'one', { nodeType: 'H100' });
    await pxds.create(ns, 'two', { nodeType: 'H100' });
    await Promise.all([pxds.waitForPhase(ns, 'one', 'Ready'), pxds.waitForPhase(ns, 'two', 'Ready')]);
    const pvcs = (await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items;
    expect(pvcs).toHaveLength(1);
    // It names neither: its size does not grow with the number of deployments sharing it.
    expect(pvcs[0]?.metadata?.ownerReferences).toBeUndefined();
    expect(pvcs[0]?.metadata?.managedFields?.map((m) => m.manager)).not.toContainEqual(
      expect.stringMatching(/^pixtral-operator\//),
    );
    expect((await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items).toHaveLength(1);
    await custom.deleteNamespacedCustomObject({ ...PXD, namespace: ns, name: 'one' });
    // By the time garbage collection took its Deployment, the cache has long been looked at.
    await eventually(async () => {
      expect(
        (await apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => d.metadata?.name),
      ).toEqual(['two-pixtral']);
    });
    const kept = (await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items;
    expect(kept.map((p) => [p.metadata?.uid, p.metadata?.deletionTimestamp])).toEqual([
      [pvcs[0]?.metadata?.uid, undefined],
    ]);
    await custom.deleteNamespacedCustomObject({ ...PXD, namespace: ns, name: 'two' });
    await eventually(
      async () => {
        expect((await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items).toEqual([]);
        expect((await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items).toEqual([]);
      },
      { timeoutMs: 60_000 },
    );
  });

  it('takes over a cache that deployments co-owned (an upgrade) and drops their references', async () => {
    const ns = await freshNamespace(kc, 'e2e');
    await pxds.create(ns, 'legacy', { nodeType: 'H100' });
    await pxds.waitForPhase(ns, 'legacy', 'Ready');
    const cr = await pxds.read(ns, 'legacy');
    const [pvc] = (await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items;
    const batch = kc.makeApiClient(BatchV1Api);
    const [job] = (await batch.listNamespacedJob({ namespace: ns })).items;
    // The earlier design: the PVC and the finished Job co-owned by the deployment, under a field
    // manager of its own, through a non-controller reference.
    const legacyManager = `pixtral-operator/${cr.metadata.uid}`;
    const legacyOwner = JSON.stringify({
      metadata: {
        ownerReferences: [
          {
            apiVersion: `${PXD.group}/${PXD.version}`,
            kind: 'PixtralDeployment',
            name: 'legacy',
            uid: cr.metadata.uid,
          },
        ],
      },
    });
    for (const [kind, name] of [
      ['pvc', pvc?.metadata?.name],
      ['job', job?.metadata?.name],
    ]) {
      const patched = await cp.kubectl([
        'patch',
        String(kind),
        String(name),
        '-n',
        ns,
        `--field-manager=${legacyManager}`,
        '--type=merge',
        '-p',
        legacyOwner,
      ]);
      expect(patched.code, patched.stderr).toBe(0);
    }
    const deploymentOwned = (o: { kind: string }) => o.kind === 'PixtralDeployment';
    await eventually(async () => {
      const now = await core.readNamespacedPersistentVolumeClaim({
        namespace: ns,
        name: String(pvc?.metadata?.name),
      });
      expect(now.metadata?.ownerReferences).toBeUndefined();
      expect((now.metadata?.managedFields ?? []).map((m) => m.manager)).not.toContain(legacyManager);
      expect(now.metadata?.uid).toBe(pvc?.metadata?.uid);
      const jobNow = await batch.readNamespacedJob({ namespace: ns, name: String(job?.metadata?.name) });
      expect((jobNow.metadata?.ownerReferences ?? []).filter(deploymentOwned)).toEqual([]);
      expect((jobNow.metadata?.managedFields ?? []).map((m) => m.manager)).not.toContain(legacyManager);
      expect(jobNow.metadata?.uid).toBe(job?.metadata?.uid);
    });
    expect((await pxds.read(ns, 'legacy')).status?.phase).toBe('Ready');
  });

  it('leaves nothing behind when deleted', async () => {
    const ns = await freshNamespace(kc, 'e2e');
    await pxds.create(ns, 'gone', { nodeType: 'H100', endpoints: { public: {}, private: {} } });
    await pxds.waitForPhase(ns, 'gone', 'Ready');
    await custom.deleteNamespacedCustomObject({ ...PXD, namespace: ns, name: 'gone' });
    await eventually(
      async () => {
        const leftovers = [
          ...(await apps.listNamespacedDeployment({ namespace: ns })).items,
          ...(await core.listNamespacedService({ namespace: ns })).items,
          ...(await core.listNamespacedPod({ namespace: ns })).items,
          ...(await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items,
          ...(await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items,
          ...(await kc.makeApiClient(NetworkingV1Api).listNamespacedIngress({ namespace: ns })).items,
          ...(await core.listNamespacedSecret({ namespace: ns })).items,
        ].map((o) => `${o.kind ?? ''}${o.metadata?.name}`);
        expect(leftovers).toEqual([]);
      },
      { timeoutMs: 60_000 },
    );
  });

  it('says InsufficientGPU, with the scheduler message, when no node of its type has free GPUs', async () => {
    const ns = await freshNamespace(kc, 'e2e');
    await pxds.create(ns, 'crowded', { nodeType: 'H100-2', minSize: 3 });
    const cr = await eventually(
      async () => {
        const now = await pxds.read(ns, 'crowded');
        expect(now.status?.conditions?.find((c) => c.type === 'Degraded')?.reason).toBe('InsufficientGPU');
        return now;
      },
      { timeoutMs: 60_000 },
    );
    expect(cr.status?.phase).toBe('Deploying');
    expect(cr.status?.conditions?.find((c) => c.type === 'Degraded')?.message).toContain(
      'Insufficient nvidia.com/gpu',
    );
    await custom.deleteNamespacedCustomObject({ ...PXD, namespace: ns, name: 'crowded' });
  });

  it('converges with no duplicate children and the same UUID when the operator is killed mid-way', async () => {
    await operator.stop();
    const ns = await freshNamespace(kc, 'e2e');
    const config = join(cp.dir, 'operator-config.json');
    let child = spawnOperator(cp.kubeconfigPath, config, { baseDomain: 'inference.test' });
    try {
      await pxds.create(ns, 'restart', { nodeType: 'H100', endpoints: { public: {}, private: {} } });
      const first = await eventually(async () => {
        const cr = await pxds.read(ns, 'restart');
        expect(cr.status?.uuid).toBeTruthy();
        return cr;
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      child = spawnOperator(cp.kubeconfigPath, config, { baseDomain: 'inference.test' });
      const ready = await pxds.waitForPhase(ns, 'restart', 'Ready', 90_000);
      expect(ready.status?.uuid).toBe(first.status?.uuid);
      expect((await apps.listNamespacedDeployment({ namespace: ns })).items).toHaveLength(1);
      expect((await core.listNamespacedService({ namespace: ns })).items).toHaveLength(1);
      expect((await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items).toHaveLength(1);
      expect((await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items).toHaveLength(1);
      expect(
        (await core.listNamespacedSecret({ namespace: ns })).items.map((s) => s.metadata?.name).sort(),
      ).toEqual(['restart-api-key-hashes', 'restart-api-keys']);
      expect((await servingPods(ns, 'restart')).length).toBe(1);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      operator = await startOperator(kc, { baseDomain: 'inference.test' });
    }
  });
});
