/**
 * Every desired child of one PixtralDeployment, computed in one call (style S2, phase 2). Pure:
 * whatever is random or observed (the generated key, the user's key Secret, the live weights PVC)
 * is an input, so the same input always gives deep-equal output.
 */

import { Buffer } from 'node:buffer';
import type {
  V1Deployment,
  V1Ingress,
  V1Job,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { Reason } from '../api/conditions.ts';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import type { NodeTypeName } from '../catalog/index.ts';
import type { OperatorConfig } from '../config.ts';
import { podDisruptionBudget, scaledObject } from './availability.ts';
import { deployment } from './deployment.ts';
import { endpointUrls, ingress } from './ingress.ts';
import { nodePool } from './node-pool.ts';
import { portPlan } from './ports.ts';
import { apiKeyHashesSecret, GENERATED_KEY_ID, generatedApiKeysSecret } from './secrets.ts';
import { service } from './service.ts';
import type { NodePool, ScaledObject } from './types.ts';
import { weightsFieldManager, weightsJob, weightsPvc } from './weights.ts';

export {
  autoscaled,
  deployment,
  maxReplicas,
  REPLICAS_HANDOFF_MANAGER,
  replicasHandoff,
  servingPodSpec,
} from './deployment.ts';
export { endpointUrls, ingress, publicHost } from './ingress.ts';
export { ownerReference, selectorLabels, standardLabels } from './labels.ts';
export * from './names.ts';
export { nodePool } from './node-pool.ts';
export { type Placement, placement } from './placement.ts';
export { normalizeQuantity } from './quantity.ts';
export { apiKeyHashesSecret, generatedApiKeysSecret, keyHashesFile } from './secrets.ts';
export { service } from './service.ts';
export type { BuildInput, Manifest, NodePool, ScaledObject } from './types.ts';
export { weightsFieldManager, weightsJob, weightsPvc } from './weights.ts';

/** What `desiredChildren` needs beyond the CR and the config. */
export interface DesiredInput {
  cr: PixtralDeployment;
  config: OperatorConfig;
  /** The CR's status UUID (its metadata.uid): the public host is `<uuid>.<baseDomain>`. */
  uuid: string;
  /** `data` of the user's API keys Secret (base64 values), when it exists. */
  userApiKeys?: Readonly<Record<string, string>> | undefined;
  /** A freshly generated key, passed only when the operator must create the keys Secret. */
  generatedApiKey?: string | undefined;
  /** The live weights PVC's uid, once it exists: the Job is built only then (the PVC owns it). Defaults to `liveWeightsPvc`'s. */
  weightsPvcUid?: string | undefined;
  /** The live weights PVC, when it exists: its spec is re-applied as it is (see `weightsPvc`). */
  liveWeightsPvc?: V1PersistentVolumeClaim | undefined;
  /** @deprecated Ignored: pass `liveWeightsPvc` (a spec-less apply would make the server drop the PVC's spec). */
  weightsPvcExists?: boolean | undefined;
}

/** A reason the CR cannot be fully served with this configuration, for a Degraded condition. */
export interface ConfigProblem {
  reason: typeof Reason.InvalidConfiguration;
  message: string;
}

/** The desired children of one CR, by kind. Optional members are absent when not wanted. */
export interface DesiredChildren {
  deployment: V1Deployment;
  service: V1Service;
  /** Present when the CR has a public endpoint and the config a baseDomain. */
  ingress?: V1Ingress;
  /** The sidecars' key hashes. */
  apiKeyHashesSecret: V1Secret;
  /** Present only when `generatedApiKey` was given: create it, never re-apply it. */
  generatedApiKeysSecret?: V1Secret;
  /** The shared weights cache, to apply under `weightsFieldManager`. */
  weightsPvc: V1PersistentVolumeClaim;
  /** The field manager for `weightsPvc` (one per CR, so owner references merge). */
  weightsFieldManager: string;
  /** Present once the PVC's uid is known. */
  weightsJob?: V1Job;
  podDisruptionBudget: V1PodDisruptionBudget;
  /** Present when maxSize > minSize. */
  scaledObject?: ScaledObject;
  /** Present with the Karpenter provider; cluster-scoped and shared, not owned. */
  nodePool?: NodePool;
  /** URLs for status.endpoints. */
  endpoints: { public?: string; private?: string };
  /** Configuration problems to report; the children above are still valid to apply. */
  problems: ConfigProblem[];
}

/** Every desired child of `input.cr`. Assumes the CR was read from the API server (uid, namespace set). */
export function desiredChildren(input: DesiredInput): DesiredChildren {
  const { cr, config, uuid } = input;
  const build = { cr, config };
  const problems: ConfigProblem[] = [];
  if (portPlan(cr).public && !config.baseDomain) {
    problems.push({
      reason: Reason.InvalidConfiguration,
      message:
        'spec.endpoints.public needs a base domain, and the operator has none: ask the platform team to set baseDomain in the operator configuration, or remove spec.endpoints.public',
    });
  }
  const userKeys =
    input.userApiKeys ??
    (input.generatedApiKey !== undefined
      ? { [GENERATED_KEY_ID]: Buffer.from(input.generatedApiKey, 'utf8').toString('base64') }
      : undefined);
  const children: DesiredChildren = {
    deployment: deployment(build),
    service: service(build),
    apiKeyHashesSecret: apiKeyHashesSecret(cr, userKeys),
    weightsPvc: weightsPvc(build, input.liveWeightsPvc),
    weightsFieldManager: weightsFieldManager(cr, config),
    podDisruptionBudget: podDisruptionBudget(build),
    endpoints: endpointUrls(cr, config, uuid),
    problems,
  };
  const ing = ingress(build, uuid);
  if (ing) children.ingress = ing;
  if (input.generatedApiKey !== undefined) {
    children.generatedApiKeysSecret = generatedApiKeysSecret(cr, input.generatedApiKey);
  }
  const pvcUid = input.weightsPvcUid ?? input.liveWeightsPvc?.metadata?.uid;
  if (pvcUid) children.weightsJob = weightsJob(build, pvcUid);
  const scaled = scaledObject(build);
  if (scaled) children.scaledObject = scaled;
  const pool = nodePool(config, cr.spec.nodeType as NodeTypeName);
  if (pool) children.nodePool = pool;
  return children;
}
