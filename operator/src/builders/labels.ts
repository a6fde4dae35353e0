/**
 * Standard labels, selectors and owner references of every child. Every namespaced child the CR
 * owns gets one controller reference to it (docs/conventions.md#ownership), so garbage collection removes it with the
 * CR and the runtime maps its events back to the CR.
 */
import { API_VERSION, KIND, type PixtralDeployment } from '../api/pixtral-deployment.ts';
import { childName } from './names.ts';

/** `app.kubernetes.io/name` of every child. */
export const APP_NAME = 'pixtral';
/** `app.kubernetes.io/managed-by` of every child. */
export const MANAGED_BY = 'pixtral-operator';
/** What a child is for (`app.kubernetes.io/component`). */
export type Component =
  | 'server'
  | 'api-keys'
  | 'weights'
  | 'weights-provisioner'
  | 'endpoint'
  | 'autoscaler'
  | 'node-pool';

/** A core/v1-shaped owner reference. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Object metadata as the builders write it (key order fixed: name, namespace, labels, annotations, ownerReferences). */
export interface ChildMetadata {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

/** A copy of `record` with its keys sorted, so serialized manifests do not depend on insertion order. */
export function sortedRecord<V>(record: Readonly<Record<string, V>>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The `app.kubernetes.io/instance` value: the CR name, or a hashed cut of it when longer than a label value. */
export function instanceLabel(cr: PixtralDeployment): string {
  return childName(cr.metadata.name!, '');
}

/**
 * The labels that select the serving pods of `cr`. Kept minimal and stable because a Deployment's
 * selector is immutable: changing them would need the Deployment re-created.
 */
export function selectorLabels(cr: PixtralDeployment): Record<string, string> {
  return sortedRecord({
    'app.kubernetes.io/component': 'server',
    'app.kubernetes.io/instance': instanceLabel(cr),
    'app.kubernetes.io/name': APP_NAME,
  });
}

/** The standard labels of a child of `cr` with the given component. */
export function standardLabels(cr: PixtralDeployment, component: Component): Record<string, string> {
  return sortedRecord({
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/instance': instanceLabel(cr),
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'app.kubernetes.io/name': APP_NAME,
  });
}

/**
 * The owner reference to `cr`: `controller: true` for the children it controls, false for shared
 * objects (the weights cache) that several CRs own together. Assumes `cr.metadata.uid` is set
 * (the CR was read from the API server); throws otherwise, since an owner reference without a
 * uid is refused by the server anyway.
 */
export function ownerReference(cr: PixtralDeployment, controller = true): OwnerReference {
  const uid = cr.metadata.uid;
  if (typeof uid !== 'string' || uid === '') {
    throw new Error(`PixtralDeployment ${cr.metadata.namespace}/${cr.metadata.name} has no metadata.uid`);
  }
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: cr.metadata.name!,
    uid,
    controller,
    blockOwnerDeletion: true,
  };
}

/** Metadata of a namespaced child that `cr` controls. */
export function childMetadata(
  cr: PixtralDeployment,
  name: string,
  component: Component,
  annotations?: Record<string, string>,
): ChildMetadata {
  return {
    name,
    namespace: cr.metadata.namespace!,
    labels: standardLabels(cr, component),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations: sortedRecord(annotations) } : {}),
    ownerReferences: [ownerReference(cr)],
  };
}
