/**
 * Deletion and the shared node pools. Only the Karpenter NodePools live outside the owner tree
 * (cluster-scoped objects cannot be owned by a namespaced PixtralDeployment), so only they need a
 * finalizer; the weights cache belongs to no deployment and is released by the weights-cache
 * controller after its last user goes.
 * Every step here is idempotent and never depends on an optional API being installed: a kind
 * that is not served counts as already cleaned (docs/conventions.md#ownership), so deletion never gets stuck.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { NODE_TYPE_LABEL } from '../builders/node-pool.ts';
import { Kinds } from '../kinds.ts';
import { hasFinalizer, isKubeApiError, type ReconcileContext } from '../runtime/index.ts';
import type { ReconcilerDeps } from './deps.ts';
import { deletingStatus } from './status.ts';

/** Finalizer that keeps a PixtralDeployment until its node pool is released. */
export const NODE_POOL_FINALIZER = 'inference.pixtral.dev/node-pool';

/** Node types wanted by PixtralDeployments that are not being deleted. */
function nodeTypesInUse(deps: Pick<ReconcilerDeps, 'caches'>): Set<string> {
  return new Set(
    deps.caches.pixtralDeployments
      .list()
      .filter((cr) => !cr.metadata.deletionTimestamp)
      .map((cr) => cr.spec.nodeType),
  );
}

/**
 * Applies the node pool this deployment needs (`desired`, none when it is being deleted) and
 * deletes pools of node types no deployment uses any more (for example after every H100-2
 * deployment moved to H100, or the last one was deleted).
 */
export async function syncNodePools(
  deps: ReconcilerDeps,
  desired: KubernetesObject | undefined,
  signal: AbortSignal,
): Promise<void> {
  const pools = deps.caches.nodePools;
  if (desired) {
    await deps.writer.apply(Kinds.NodePool, desired, pools?.get('', desired.metadata?.name ?? ''), signal);
  }
  const inUse = nodeTypesInUse(deps);
  for (const pool of pools?.list() ?? []) {
    const nodeType = pool.metadata?.labels?.[NODE_TYPE_LABEL];
    if (nodeType === undefined || inUse.has(nodeType) || pool.metadata?.name === desired?.metadata?.name)
      continue;
    try {
      await deps.client.delete(Kinds.NodePool, { namespace: '', name: pool.metadata!.name! }, { signal });
    } catch (err) {
      if (!isKubeApiError(err, 404)) throw err;
    }
  }
}

/** The deletion path: release what lives outside the owner tree, then drop the finalizer. */
export async function finalize(
  cr: PixtralDeployment,
  deps: ReconcilerDeps,
  ctx: ReconcileContext,
): Promise<void> {
  if (!hasFinalizer(cr, NODE_POOL_FINALIZER)) return;
  if (cr.status?.phase !== 'Deleting') {
    await deps.writer
      .applyStatus(
        Kinds.PixtralDeployment,
        cr,
        deletingStatus(cr, deps.now()) as Record<string, unknown>,
        ctx.signal,
      )
      .catch((err) => ctx.log.warn({ err }, 'Could not write phase Deleting'));
  }
  if (deps.config.nodePools.provider === 'karpenter' && deps.caches.nodePools) {
    // This CR is left out of the node types in use: its deletionTimestamp is set.
    await syncNodePools(deps, undefined, ctx.signal);
  }
  await deps.writer.removeFinalizer(Kinds.PixtralDeployment, cr, NODE_POOL_FINALIZER, ctx.signal);
  ctx.log.info('Released node pool and removed finalizer');
}
