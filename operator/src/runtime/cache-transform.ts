/**
 * What an informer keeps of each object it caches: all of it but what no reader looks at and
 * what costs memory on every object (controller-runtime's cache transforms do the same, e.g.
 * `cache.TransformStripManagedFields`). Applied to each listed or watched object before it is
 * stored, so the dropped parts are never retained.
 *
 * - `metadata.managedFields` goes. The operator writes with server-side apply only, and of the
 *   field sets it reads only its own applies' (to skip a no-op apply, and to see whether it owns
 *   a Deployment's `spec.replicas`); those are kept reduced to a digest and a few paths beside the
 *   object (applied-fields.ts). Whole, the field sets were the biggest part of every cached
 *   object: a Deployment's repeats its pod template, field by field.
 * - A Deployment's pod template: with the applied digest nothing reads it from the cache (the
 *   reconciler builds the template it wants; local mode reads the live one from the API server).
 *   It was ~5 KB of objects per deployment.
 * - Services and PodDisruptionBudgets: all but their metadata. They are read for who controls
 *   them and nothing else (whether an apply is needed is the digest's answer).
 * - kubectl's `last-applied-configuration` annotation: a second full copy of the object.
 * - Pods: of `spec`, only each container's name and image and the node (the stall messages name
 *   the image of a failing container); a pod's spec repeats its Deployment's or Job's template.
 *   Of `status`, what the stall and provisioner-failure readers look at: the phase, each
 *   condition's type, status, reason and message, and each container's name, image, readiness,
 *   restarts and states; not its addresses, times, IDs, mounts or resources.
 *
 * What is kept shares its strings with every other cached object (shared-strings.ts).
 */
import type {
  KubernetesObject,
  V1Container,
  V1ContainerStatus,
  V1Deployment,
  V1Pod,
} from '@kubernetes/client-node';
import { appliedFieldsOf, keepAppliedFields } from './applied-fields.ts';
import { SharedStrings } from './shared-strings.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** `apiVersion/kind` of the kinds whose metadata is all anyone reads. */
const METADATA_ONLY = new Set(['v1/Service', 'policy/v1/PodDisruptionBudget']);
/** One table for every informer: kinds repeat each other's strings (names, labels, images). */
const strings = new SharedStrings();

/** `object` without the parts the operator never reads (a new object; the input is not changed). */
export function trimForCache<T extends KubernetesObject>(object: T): T {
  const metadata = object.metadata;
  if (!metadata) return object;
  const { managedFields: _fields, ...trimmed } = metadata;
  if (metadata.annotations && LAST_APPLIED in metadata.annotations) {
    const { [LAST_APPLIED]: _dropped, ...annotations } = metadata.annotations;
    trimmed.annotations = annotations;
  }
  let result: T = { ...object, metadata: trimmed };
  const kind = `${object.apiVersion}/${object.kind}`;
  if (METADATA_ONLY.has(kind))
    result = { apiVersion: object.apiVersion, kind: object.kind, metadata: trimmed } as T;
  if (kind === 'v1/Pod') result = trimPod(result as V1Pod) as T;
  if (object.apiVersion === 'apps/v1' && object.kind === 'Deployment')
    result = withoutTemplate(result as V1Deployment) as T;
  const kept = strings.copy(result);
  const applied = appliedFieldsOf(object);
  if (applied.length) keepAppliedFields(kept, strings.copy(applied));
  return kept;
}

function nameAndImage(containers: V1Container[] | undefined): V1Container[] | undefined {
  return containers?.map(({ name, image }) => (image === undefined ? { name } : { name, image }));
}

function containerStates(statuses: V1ContainerStatus[] | undefined): V1ContainerStatus[] | undefined {
  // Without the IDs the type requires: a cached pod is trimmed, and no reader looks at them.
  return statuses?.map(({ name, image, ready, restartCount, state, lastState }) => ({
    name,
    image,
    ready,
    restartCount,
    ...(state ? { state } : {}),
    ...(lastState ? { lastState } : {}),
  })) as V1ContainerStatus[] | undefined;
}

function trimPod(pod: V1Pod): V1Pod {
  const { spec, status } = pod;
  const trimmed: V1Pod = { ...pod };
  if (spec) {
    const initContainers = nameAndImage(spec.initContainers);
    trimmed.spec = {
      containers: nameAndImage(spec.containers) ?? [],
      ...(initContainers ? { initContainers } : {}),
      ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
    };
  }
  if (status) {
    const containerStatuses = containerStates(status.containerStatuses);
    const initContainerStatuses = containerStates(status.initContainerStatuses);
    trimmed.status = {
      ...(status.phase ? { phase: status.phase } : {}),
      ...(status.conditions
        ? {
            conditions: status.conditions.map(({ type, status, reason, message }) => ({
              type,
              status,
              reason,
              message,
            })),
          }
        : {}),
      ...(containerStatuses ? { containerStatuses } : {}),
      ...(initContainerStatuses ? { initContainerStatuses } : {}),
    };
  }
  return trimmed;
}

function withoutTemplate(deployment: V1Deployment): V1Deployment {
  if (!deployment.spec) return deployment;
  const { template: _template, ...spec } = deployment.spec;
  return { ...deployment, spec: spec as V1Deployment['spec'] };
}
