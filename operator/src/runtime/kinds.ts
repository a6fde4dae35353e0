/**
 * How the runtime addresses a kind without API discovery: apiVersion, kind, the plural
 * resource name and scope. Declaring these keeps the runtime generic over kinds and saves the
 * discovery round trips client-node's `KubernetesObjectApi` makes.
 */

import type { KubernetesObject } from '@kubernetes/client-node';

/** A kind the runtime can list, watch and write. */
export interface KindRef {
  /** `group/version`, or `v1` for the core group. */
  apiVersion: string;
  kind: string;
  /** The lowercase plural used in URLs, e.g. `configmaps`. */
  plural: string;
  namespaced: boolean;
}

/** A namespace/name pair: the work queue's key and the reconciler's input. */
export interface ObjectKey {
  namespace: string;
  name: string;
}

/** The key of an object (`namespace` empty for cluster-scoped ones); throws when it has no name. */
export function objectKey(obj: KubernetesObject): ObjectKey {
  const name = obj.metadata?.name;
  if (!name) throw new Error(`${obj.kind ?? 'object'} has no metadata.name`);
  return { namespace: obj.metadata?.namespace ?? '', name };
}

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function keyString(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

/** Inverse of `keyString`. */
export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The collection path, e.g. `/api/v1/namespaces/ns/configmaps` (all namespaces when `namespace` is empty). */
export function collectionPath(kind: KindRef, namespace?: string): string {
  const base = kind.apiVersion.includes('/') ? `/apis/${kind.apiVersion}` : `/api/${kind.apiVersion}`;
  const ns = kind.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${kind.plural}`;
}

/** The object path, with an optional subresource such as `status`. */
export function objectPath(kind: KindRef, key: ObjectKey, subresource?: string): string {
  if (kind.namespaced && !key.namespace) throw new Error(`${kind.kind} ${key.name} needs a namespace`);
  const path = `${collectionPath(kind, key.namespace)}/${encodeURIComponent(key.name)}`;
  return subresource ? `${path}/${subresource}` : path;
}

/** Well-known kinds used by the runtime itself and by most controllers. */
export const BuiltinKinds = {
  ConfigMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  Secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  Service: { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  PersistentVolumeClaim: {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
  },
  Namespace: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  Deployment: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  Job: { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', namespaced: true },
  Ingress: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', plural: 'ingresses', namespaced: true },
  PodDisruptionBudget: {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    namespaced: true,
  },
  HorizontalPodAutoscaler: {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
  },
  Lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  Event: { apiVersion: 'events.k8s.io/v1', kind: 'Event', plural: 'events', namespaced: true },
} as const satisfies Record<string, KindRef>;
