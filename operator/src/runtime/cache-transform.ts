/**
 * What an informer keeps of each object it caches: all of it but what no reader looks at and
 * what costs memory on every object (controller-runtime's cache transforms do the same, e.g.
 * `cache.TransformStripManagedFields`). Applied to each listed or watched object before it is
 * stored, so the dropped parts are never retained.
 *
 * - `metadata.managedFields`: only `Apply` entries are kept. The operator writes with server-side
 *   apply only and reads its own entries (`needsApply` skips a no-op apply by them; the
 *   reconciler sees from them whether it owns a Deployment's `spec.replicas`). The `Update`
 *   entries of kubelet, kube-controller-manager, the scheduler or kubectl edits (each a copy of
 *   the field set it wrote) are read by nothing. Of an Apply entry's field set only the `f:`
 *   members (fields of objects) are kept: those readers walk nothing else, and the `k:`/`v:`
 *   members (list items by key or value, a copy of each container, port and env variable) were
 *   most of a Deployment's entry.
 * - kubectl's `last-applied-configuration` annotation: a second full copy of the object.
 * - Pods: of `spec`, only each container's name and image and the node (the stall messages name
 *   the image of a failing container); a pod's spec repeats its Deployment's or Job's template,
 *   which the Deployment and Job caches already hold. `status` is kept whole.
 *
 * What is kept shares its strings with every other cached object (shared-strings.ts).
 */
import type { KubernetesObject, V1Container, V1Pod } from '@kubernetes/client-node';
import { SharedStrings } from './shared-strings.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** One table for every informer: kinds repeat each other's strings (names, labels, images). */
const strings = new SharedStrings();

/** `object` without the parts the operator never reads (a new object; the input is not changed). */
export function trimForCache<T extends KubernetesObject>(object: T): T {
  const metadata = object.metadata;
  if (!metadata) return object;
  const trimmed = { ...metadata };
  if (metadata.managedFields) {
    const applied = metadata.managedFields
      .filter((entry) => entry.operation === 'Apply')
      .map((entry) => (entry.fieldsV1 ? { ...entry, fieldsV1: objectFields(entry.fieldsV1) } : entry));
    if (applied.length) trimmed.managedFields = applied;
    else delete trimmed.managedFields;
  }
  if (metadata.annotations && LAST_APPLIED in metadata.annotations) {
    const { [LAST_APPLIED]: _dropped, ...annotations } = metadata.annotations;
    trimmed.annotations = annotations;
  }
  const result = { ...object, metadata: trimmed };
  return strings.copy(
    object.kind === 'Pod' && object.apiVersion === 'v1' ? (trimPodSpec(result as V1Pod) as T) : result,
  );
}

/** A managed-fields set with only its `f:` members, at every depth. */
function objectFields(fields: object): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [member, child] of Object.entries(fields))
    if (member.startsWith('f:'))
      kept[member] = child && typeof child === 'object' ? objectFields(child) : child;
  return kept;
}

function nameAndImage(containers: V1Container[] | undefined): V1Container[] | undefined {
  return containers?.map(({ name, image }) => (image === undefined ? { name } : { name, image }));
}

function trimPodSpec(pod: V1Pod): V1Pod {
  const spec = pod.spec;
  if (!spec) return pod;
  const containers = nameAndImage(spec.containers) ?? [];
  const initContainers = nameAndImage(spec.initContainers);
  return {
    ...pod,
    spec: {
      containers,
      ...(initContainers ? { initContainers } : {}),
      ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
    },
  };
}
