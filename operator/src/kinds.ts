/** The kinds the PixtralDeployment controller reads and writes, addressed without discovery. */
import { API_VERSION, KIND, PLURAL } from './api/pixtral-deployment.ts';
import { BuiltinKinds, type KindRef } from './runtime/index.ts';

/** Every kind the operator touches. */
export const Kinds = {
  ...BuiltinKinds,
  PixtralDeployment: { apiVersion: API_VERSION, kind: KIND, plural: PLURAL, namespaced: true },
  Pod: { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  /** core/v1 Events: what controllers said about an object (read by involvedObject.uid; written as events.k8s.io). */
  CoreEvent: { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  ScaledObject: {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    plural: 'scaledobjects',
    namespaced: true,
  },
  NodePool: { apiVersion: 'karpenter.sh/v1', kind: 'NodePool', plural: 'nodepools', namespaced: false },
} as const satisfies Record<string, KindRef>;

/** The label selector of what the operator made: its caches of PVCs, Jobs, pods and Secrets. */
export const MANAGED_SELECTOR = 'app.kubernetes.io/managed-by=pixtral-operator';

/** `kind`, narrowed to the objects the operator made (one shared cache per kind and selector). */
export const managed = <K extends KindRef>(kind: K): K & { labelSelector: string } => ({
  ...kind,
  labelSelector: MANAGED_SELECTOR,
});
