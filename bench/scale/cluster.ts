/**
 * The scale benchmark's cluster: the harness's full control plane with an audit log, M kwok GPU
 * nodes (each with enough GPUs for its share of the deployments), CPU nodes for weights Jobs,
 * one static volume per namespace (the shared weights cache) and the namespaces.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { FAKE_NODE_LABEL, gpuNodeManifest } from '../../test/harness/gpu-nodes.ts';
import {
  type ControlPlane,
  createCpuNodes,
  createVolumes,
  freshNamespace,
  startControlPlane,
} from '../../test/harness/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inBatches<T>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A started benchmark cluster. */
export interface ScaleCluster {
  cp: ControlPlane;
  kc: KubeConfig;
  namespaces: string[];
  /** pid of each control-plane component by name (etcd, kube-apiserver, ...). */
  componentPids: Map<string, number>;
}

/** The pids the harness recorded in its folder (`<name>.pid`), by component name. */
function componentPids(dir: string, names: string[]): Map<string, number> {
  const pids = new Map<string, number>();
  for (const name of names) {
    try {
      pids.set(name, Number(readFileSync(join(dir, `${name}.pid`), 'utf8').trim()));
    } catch {}
  }
  return pids;
}

/**
 * Starts the control plane and creates `nodes` H100 nodes with `gpusPerNode` GPUs each,
 * `namespaces` namespaces, a volume per namespace and CPU nodes for their weights Jobs.
 */
export async function startScaleCluster(options: {
  nodes: number;
  gpusPerNode: number;
  namespaces: number;
  extraCrds: string[];
  say: (message: string) => void;
}): Promise<ScaleCluster> {
  const { say } = options;
  const cp = await startControlPlane({
    full: true,
    auditLog: true,
    progress: (message) => say(`control plane: ${message}`),
    crds: [join(ROOT, 'crds/inference.pixtral.dev_pixtraldeployments.yaml'), ...options.extraCrds],
  });
  try {
    const kc = cp.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    say(`creating ${options.nodes} kwok GPU nodes (H100, ${options.gpusPerNode} GPU each)`);
    const names = Array.from({ length: options.nodes }, (_, i) => `gpu-h100-${String(i).padStart(5, '0')}`);
    let made = 0;
    const ticker = setInterval(() => say(`GPU nodes created: ${made}/${options.nodes}`), 5000);
    await inBatches(names, 20, async (name) => {
      const node: V1Node = gpuNodeManifest(name, 'H100');
      const capacity = {
        ...node.status?.capacity,
        'nvidia.com/gpu': String(options.gpusPerNode),
        pods: String(Math.max(110, options.gpusPerNode + 20)),
      };
      node.status = { capacity, allocatable: capacity };
      await core.createNode({ body: node });
      made++;
    }).finally(() => clearInterval(ticker));
    await waitForNodes(core, options.nodes, say);
    say(`creating ${options.namespaces} namespaces, their weights volumes and CPU nodes for weights Jobs`);
    await createCpuNodes(kc, Math.ceil(options.namespaces / 100));
    await createVolumes(kc, options.namespaces);
    const namespaces: string[] = [];
    for (let i = 0; i < options.namespaces; i++) namespaces.push(await freshNamespace(kc, `scale-${i}`));
    return {
      cp,
      kc,
      namespaces,
      componentPids: componentPids(cp.dir, [
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
        'kube-scheduler',
        'kwok',
      ]),
    };
  } catch (error) {
    await cp.stop();
    throw error;
  }
}

/**
 * Waits until `count` fake GPU nodes are Ready and carry no not-ready taint, saying how many are;
 * past a deadline it goes on with those that are.
 */
async function waitForNodes(core: CoreV1Api, count: number, say: (message: string) => void): Promise<void> {
  // kwok turns 4-5 nodes a second Ready on a loaded 2-core machine.
  const deadline = Date.now() + 120_000 + count * 300;
  let said = 0;
  for (;;) {
    const list = await core.listNode({
      labelSelector: `${FAKE_NODE_LABEL}=true,node.kubernetes.io/instance-type=H100-1-80G`,
    });
    const ready = list.items.filter(
      (node) =>
        node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
        !node.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/')),
    ).length;
    if (ready >= count) return;
    if (Date.now() > deadline) {
      // Pods wait for the rest; the run goes on with the control plane as it is.
      say(`only ${ready} of ${count} GPU nodes are Ready and schedulable; going on`);
      return;
    }
    if (Date.now() - said > 5000) {
      say(`GPU nodes schedulable: ${ready}/${count}`);
      said = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
