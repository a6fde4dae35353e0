/**
 * GPU placement of the serving pods: which nodes (node type labels plus the user's selector),
 * which taints they tolerate, and how many GPUs each pod takes. Tensor parallelism equals the
 * GPU count (one replica spans the GPUs of one node).
 */
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import type { NodeTypeName } from '../catalog/index.ts';
import type { OperatorConfig, Toleration } from '../config.ts';
import { canonicalJson } from './hash.ts';
import { sortedRecord } from './labels.ts';
import { catalogModel } from './model.ts';

/** The GPU resource name of NVIDIA's device plugin. */
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** Where and on how many GPUs one serving pod runs. */
export interface Placement {
  nodeType: NodeTypeName;
  /** Node labels the pod requires: the node type's (which win over the user's on the same key), plus `spec.pod.nodeSelector`. */
  nodeSelector: Record<string, string>;
  /** The node type's tolerations plus `spec.pod.tolerations`, de-duplicated and sorted. */
  tolerations: Toleration[];
  /** `nvidia.com/gpu` limit of the vLLM container. */
  gpus: number;
  /** vLLM `--tensor-parallel-size`: equals `gpus`. */
  tensorParallelSize: number;
}

/** Tolerations de-duplicated and sorted by key, so the order never depends on the input's. */
export function sortTolerations(tolerations: readonly Toleration[]): Toleration[] {
  const byKey = new Map<string, Toleration>();
  for (const t of tolerations) {
    const clean = Object.fromEntries(
      (['key', 'operator', 'value', 'effect', 'tolerationSeconds'] as const)
        .filter((k) => t[k] !== undefined)
        .map((k) => [k, t[k]]),
    ) as Toleration;
    byKey.set(canonicalJson(clean), clean);
  }
  // By key first (readable), then by the whole toleration (total order).
  const order = ([json, t]: [string, Toleration]) => `${t.key ?? ''}\u0000${json}`;
  return [...byKey.entries()]
    .sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
    .map(([, t]) => t);
}

/** The placement of `cr`'s serving pods under `config`. */
export function placement(cr: PixtralDeployment, config: OperatorConfig): Placement {
  const nodeType = cr.spec.nodeType as NodeTypeName;
  const model = catalogModel(cr, config);
  const profile = model.nodeTypes[nodeType];
  if (!profile) throw new Error(`Model ${model.name} does not run on node type ${nodeType}`);
  const typeConfig = config.nodeTypes[nodeType];
  return {
    nodeType,
    nodeSelector: sortedRecord({ ...cr.spec.pod?.nodeSelector, ...typeConfig.labels }),
    tolerations: sortTolerations([...typeConfig.tolerations, ...(cr.spec.pod?.tolerations ?? [])]),
    gpus: profile.gpus,
    tensorParallelSize: profile.tensorParallelSize,
  };
}
