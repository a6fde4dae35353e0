import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { eventually } from './eventually.ts';

/** The GPU node types of the product, as kwok fakes them. */
export type GpuNodeType = 'H100' | 'H100-2';

const NODE_TYPES: Record<GpuNodeType, { instanceType: string; gpus: number }> = {
  H100: { instanceType: 'H100-1-80G', gpus: 1 },
  'H100-2': { instanceType: 'H100-2-80G', gpus: 2 },
};

/** The taint GPU node pools usually carry, so only pods that tolerate it land there. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' } as const;

/** The label that marks nodes made by this helper. */
export const FAKE_NODE_LABEL = 'pixtral.dev/fake-gpu-node';

/** A kwok-managed node: capacity set at creation (status is only writable then), standard labels. */
function fakeNode(
  name: string,
  instanceType: string,
  resources: Record<string, string>,
  extra: { labels?: Record<string, string>; taints?: { key: string; value?: string; effect: string }[] },
): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        'node.kubernetes.io/instance-type': instanceType,
        [FAKE_NODE_LABEL]: 'true',
        ...extra.labels,
      },
    },
    spec: extra.taints ? { taints: extra.taints } : {},
    status: { capacity: resources, allocatable: resources },
  };
}

/** The manifest of one fake GPU node managed by kwok. */
export function gpuNodeManifest(
  name: string,
  nodeType: GpuNodeType,
  options: { labels?: Record<string, string>; taint?: boolean } = {},
): V1Node {
  const { instanceType, gpus } = NODE_TYPES[nodeType];
  const resources = {
    cpu: '32',
    memory: '256Gi',
    pods: '110',
    'ephemeral-storage': '1Ti',
    'nvidia.com/gpu': String(gpus),
  };
  return fakeNode(name, instanceType, resources, {
    labels: {
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/gpu.count': String(gpus),
      'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
      ...options.labels,
    },
    ...(options.taint === false ? {} : { taints: [{ ...GPU_TAINT }] }),
  });
}

/**
 * Creates `count` kwok-managed GPU nodes of a node type (H100: instance type H100-1-80G with one
 * nvidia.com/gpu; H100-2: H100-2-80G with two), tainted nvidia.com/gpu=present:NoSchedule, and
 * waits until they are Ready and untainted by the node lifecycle controller. Needs a control plane
 * started with kwok and the controller manager. Returns the node names.
 */
export async function createGpuNodes(
  kc: KubeConfig,
  nodeType: GpuNodeType,
  count: number,
  options: { prefix?: string; labels?: Record<string, string>; taint?: boolean } = {},
): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const prefix = options.prefix ?? `gpu-${nodeType.toLowerCase()}`;
  const names = Array.from({ length: count }, () => `${prefix}-${randomBytes(3).toString('hex')}`);
  await Promise.all(names.map((name) => core.createNode({ body: gpuNodeManifest(name, nodeType, options) })));
  await waitForSchedulable(core, names);
  return names;
}

/**
 * Creates `count` kwok-managed CPU nodes (no GPU, no taint, instance type `cpu-32`), where pods
 * without GPU tolerations run (the weights Job, the operator itself), and waits until Ready.
 */
export async function createCpuNodes(
  kc: KubeConfig,
  count: number,
  options: { prefix?: string } = {},
): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const prefix = options.prefix ?? 'cpu';
  const names = Array.from({ length: count }, () => `${prefix}-${randomBytes(3).toString('hex')}`);
  const resources = { cpu: '32', memory: '128Gi', pods: '110', 'ephemeral-storage': '1Ti' };
  await Promise.all(names.map((name) => core.createNode({ body: fakeNode(name, 'cpu-32', resources, {}) })));
  await waitForSchedulable(core, names);
  return names;
}

/**
 * Waits until every named node is Ready and carries no `node.kubernetes.io/*` taint (the node
 * lifecycle controller removes not-ready taints once kwok reports the node Ready).
 */
async function waitForSchedulable(core: CoreV1Api, names: string[]): Promise<void> {
  await eventually(
    async () => {
      for (const name of names) {
        const node = await core.readNode({ name });
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        const notReadyTaint = node.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/'));
        if (!ready || notReadyTaint) throw new Error(`node ${name} is not Ready and schedulable yet`);
      }
    },
    { timeoutMs: 60_000 },
  );
}
