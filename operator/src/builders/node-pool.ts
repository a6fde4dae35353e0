/**
 * Karpenter NodePools (karpenter.sh/v1), one per node type in use, shared by every deployment of
 * that type. Cluster-scoped, so no owner reference (a namespaced owner cannot own them): the
 * reconciler removes a pool, behind a finalizer, when no deployment needs it any more.
 */
import type { NodeTypeName } from '../catalog/index.ts';
import type { OperatorConfig } from '../config.ts';
import { APP_NAME, MANAGED_BY, sortedRecord } from './labels.ts';
import { nodePoolName } from './names.ts';
import { GPU_RESOURCE } from './placement.ts';
import type { NodePool } from './types.ts';

/** Label naming the node type, on the NodePool itself (so the reconciler finds pools no one needs) and on its nodes. */
export const NODE_TYPE_LABEL = 'pixtral.dev/node-type';

/** Taints the pool's nodes get: one per node-type toleration that names a key and an effect. */
function taints(
  config: OperatorConfig,
  nodeType: NodeTypeName,
): NodePool['spec']['template']['spec']['taints'] {
  return config.nodeTypes[nodeType].tolerations
    .filter((t) => t.key && t.effect)
    .map((t) => ({
      key: t.key!,
      ...(t.operator === 'Equal' && t.value ? { value: t.value } : {}),
      effect: t.effect!,
    }))
    .sort((a, b) => (`${a.key}/${a.effect}` < `${b.key}/${b.effect}` ? -1 : 1));
}

/**
 * The NodePool of `nodeType`, or undefined when the node-pool provider is not Karpenter. Its nodes
 * carry the node type's labels (as `In` requirements, so Karpenter picks that instance type) and
 * the GPU taint that the serving pods tolerate.
 */
export function nodePool(config: OperatorConfig, nodeType: NodeTypeName): NodePool | undefined {
  const pools = config.nodePools;
  if (pools.provider !== 'karpenter') return undefined;
  const labels = sortedRecord(config.nodeTypes[nodeType].labels);
  return {
    apiVersion: 'karpenter.sh/v1',
    kind: 'NodePool',
    metadata: {
      name: nodePoolName(nodeType),
      labels: sortedRecord({
        'app.kubernetes.io/component': 'node-pool',
        'app.kubernetes.io/managed-by': MANAGED_BY,
        'app.kubernetes.io/name': APP_NAME,
        [NODE_TYPE_LABEL]: nodeType,
      }),
    },
    spec: {
      template: {
        metadata: { labels: { [NODE_TYPE_LABEL]: nodeType } },
        spec: {
          nodeClassRef: {
            group: pools.nodeClassRef.group,
            kind: pools.nodeClassRef.kind,
            name: pools.nodeClassRef.name,
          },
          requirements: Object.entries(labels).map(([key, value]) => ({
            key,
            operator: 'In',
            values: [value],
          })),
          taints: taints(config, nodeType),
        },
      },
      ...(pools.gpuLimit ? { limits: { [GPU_RESOURCE]: String(pools.gpuLimit) } } : {}),
    },
  };
}
