/**
 * Every desired child of one PixtralDeployment, computed in one call (docs/conventions.md#pure-builders). Pure:
 * whatever is observed (the user's key Secret) is an input, so the same input always gives
 * deep-equal output. The generated keys Secret is not among them: it is created once
 * (`generatedApiKeysSecret`), never applied; nor is the shared weights cache, which no deployment
 * owns (`desiredWeightsCache`, applied by the weights-cache controller).
 */

import type {
  V1Deployment,
  V1Ingress,
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
import { apiKeyHashesSecret } from './secrets.ts';
import { service } from './service.ts';
import type { NodePool, ScaledObject } from './types.ts';

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
export { catalogModel, configuredModel, withConfiguredWeights } from './model.ts';
export * from './names.ts';
export { nodePool } from './node-pool.ts';
export { type Placement, placement } from './placement.ts';
export { normalizeQuantity } from './quantity.ts';
export { apiKeyHashesSecret, GENERATED_KEY_ID, generatedApiKeysSecret, keyHashesFile } from './secrets.ts';
export { service } from './service.ts';
export type { BuildInput, Manifest, NodePool, ScaledObject } from './types.ts';
export {
  claimOf,
  desiredWeightsCache,
  notesOf,
  type WeightsNotes,
  weightsJob,
  weightsPvc,
} from './weights.ts';

/** What `desiredChildren` needs beyond the CR and the config. */
export interface DesiredInput {
  cr: PixtralDeployment;
  config: OperatorConfig;
  /** `data` of the user's API keys Secret (base64 values), when it exists. */
  userApiKeys?: Readonly<Record<string, string>> | undefined;
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
  const { cr, config } = input;
  // The status UUID is the CR's metadata.uid: the public host is `<uuid>.<baseDomain>`.
  const uuid = String(cr.metadata.uid);
  const build = { cr, config };
  const problems: ConfigProblem[] = [];
  if (portPlan(cr).public && !config.baseDomain) {
    problems.push({
      reason: Reason.InvalidConfiguration,
      message:
        'spec.endpoints.public needs a base domain, and the operator has none: ask the platform team to set baseDomain in the operator configuration, or remove spec.endpoints.public',
    });
  }
  const children: DesiredChildren = {
    deployment: deployment(build),
    service: service(build),
    apiKeyHashesSecret: apiKeyHashesSecret(cr, input.userApiKeys),
    podDisruptionBudget: podDisruptionBudget(build),
    endpoints: endpointUrls(cr, config, uuid),
    problems,
  };
  const ing = ingress(build, uuid);
  if (ing) children.ingress = ing;
  const scaled = scaledObject(build);
  if (scaled) children.scaledObject = scaled;
  const pool = nodePool(config, cr.spec.nodeType as NodeTypeName);
  if (pool) children.nodePool = pool;
  return children;
}
