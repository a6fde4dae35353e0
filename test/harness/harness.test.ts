import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Deployment } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPU_TAINT } from './gpu-nodes.ts';
import { createGpuNodes, eventually, freshNamespace, installCrds, sharedControlPlane } from './index.ts';

const cluster = sharedControlPlane();
const kc = cluster.kubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);

function gpuDeployment(name: string, gpus: number): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            {
              name: 'main',
              image: 'registry.invalid/cuda:never-pulled',
              resources: { limits: { 'nvidia.com/gpu': String(gpus) } },
            },
          ],
        },
      },
    },
  };
}

async function podsOf(namespace: string, app: string) {
  return (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

describe('the test control plane', () => {
  let h100: string[];
  let h100x2: string[];
  beforeAll(async () => {
    [h100, h100x2] = await Promise.all([createGpuNodes(kc, 'H100', 2), createGpuNodes(kc, 'H100-2', 1)]);
  });

  it('runs a 2-GPU Deployment only on an H100-2 node, and its pod turns Ready', async () => {
    const namespace = await freshNamespace(kc, 'harness');
    await apps.createNamespacedDeployment({ namespace, body: gpuDeployment('two-gpus', 2) });
    const deployment = await eventually(
      async () => {
        const d = await apps.readNamespacedDeployment({ namespace, name: 'two-gpus' });
        expect(d.status?.readyReplicas).toBe(1);
        return d;
      },
      { timeoutMs: 90_000 },
    );
    expect(deployment.status?.availableReplicas).toBe(1);
    const [pod] = await podsOf(namespace, 'two-gpus');
    expect(h100x2).toContain(pod?.spec?.nodeName);
    expect(h100).not.toContain(pod?.spec?.nodeName);
    const node = await core.readNode({ name: pod?.spec?.nodeName as string });
    expect(node.metadata?.labels?.['node.kubernetes.io/instance-type']).toBe('H100-2-80G');
  });

  it('leaves a 3-GPU pod Pending with the scheduler saying why', async () => {
    const namespace = await freshNamespace(kc, 'harness');
    await apps.createNamespacedDeployment({ namespace, body: gpuDeployment('three-gpus', 3) });
    const condition = await eventually(
      async () => {
        const [pod] = await podsOf(namespace, 'three-gpus');
        const scheduled = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled');
        expect(scheduled?.reason).toBe('Unschedulable');
        return scheduled;
      },
      { timeoutMs: 60_000 },
    );
    expect(condition?.message).toMatch(/Insufficient nvidia\.com\/gpu/);
    const [pod] = await podsOf(namespace, 'three-gpus');
    expect(pod?.status?.phase).toBe('Pending');
  });

  it('installs a CRD and round-trips a custom resource', async () => {
    await installCrds(kc, [
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.harness.pixtral.dev' },
        spec: {
          group: 'harness.pixtral.dev',
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { size: { type: 'integer', default: 3 } } },
                  },
                },
              },
            },
          ],
        },
      },
    ]);
    const namespace = await freshNamespace(kc, 'harness');
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'harness.pixtral.dev', version: 'v1', namespace, plural: 'widgets' };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: 'harness.pixtral.dev/v1', kind: 'Widget', metadata: { name: 'w' }, spec: {} },
    });
    const read = (await custom.getNamespacedCustomObject({ ...ref, name: 'w' })) as {
      spec: { size: number };
    };
    expect(read.spec.size).toBe(3);
  });

  it('garbage-collects an owned object after its owner is deleted', async () => {
    const namespace = await freshNamespace(kc, 'harness');
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: {
          name: 'owned',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid as string },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace, name: 'owner' });
    await eventually(
      async () => {
        const names = (await core.listNamespacedConfigMap({ namespace })).items.map((c) => c.metadata?.name);
        expect(names).not.toContain('owned');
      },
      { timeoutMs: 60_000 },
    );
  });

  it('answers kubectl with the pinned Kubernetes version', async () => {
    const { stdout, code } = await cluster.kubectl(['version', '-o', 'json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).serverVersion.gitVersion).toBe('v1.36.3');
  });
});
