/**
 * Optional APIs the operator uses when they are there: KEDA (autoscaling) and Karpenter (node
 * pools). Their CRDs may be installed or removed while the operator runs; the controller watches
 * them and updates this record, and the reconciler reads it on every pass, so neither needs a
 * restart to be picked up. `missing` says in a status message what the user has to do.
 */

/** One optional API, as last seen. */
export interface Integration {
  /** Its CRD is established and the operator may list the kind. */
  available: boolean;
  /** Why not, when it is not: the CRD is absent, or the operator's RBAC does not cover it. */
  why?: 'not-installed' | 'forbidden' | undefined;
}

/** The optional APIs, mutable: the CRD watch writes, the reconciler reads. */
export interface Integrations {
  keda: Integration;
  karpenter: Integration;
}

/** Status messages for a deployment that needs an integration that is not available. */
export function missingMessage(name: 'keda' | 'karpenter', integration: Integration): string {
  const forbidden = integration.why === 'forbidden';
  if (name === 'keda') {
    return forbidden
      ? 'spec.maxSize > spec.minSize needs KEDA; its ScaledObject CRD is installed but the operator may not use it: enable rbac.keda in the chart, or set spec.maxSize to spec.minSize'
      : 'spec.maxSize > spec.minSize needs KEDA (keda.sh/v1alpha1 ScaledObject), which is not installed; install KEDA (picked up without a restart) or set spec.maxSize to spec.minSize';
  }
  return forbidden
    ? 'nodePools.provider is karpenter and the NodePool CRD is installed, but the operator may not use it: enable rbac.karpenter in the chart'
    : 'nodePools.provider is karpenter, but karpenter.sh/v1 NodePool is not installed; install Karpenter (picked up without a restart) or set nodePools.provider to none';
}
