/**
 * Shapes of the manifests the builders return. Built-in kinds reuse client-node's model types
 * for type checking only: the builders return plain JSON objects (the API's own field names),
 * applied as raw JSON with server-side apply, never client-node class instances.
 */
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import type { OperatorConfig } from '../config.ts';
import type { ChildMetadata } from './labels.ts';

/** requests/limits of one container, before normalization (numbers allowed, as in YAML). */
export interface ResourceRequirements {
  requests?: Record<string, string | number> | undefined;
  limits?: Record<string, string | number> | undefined;
}

/** Any manifest: apiVersion, kind, metadata and the rest. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: ChildMetadata;
  [field: string]: unknown;
}

/** KEDA `keda.sh/v1alpha1` ScaledObject, the fields we set. */
export interface ScaledObject extends Manifest {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    pollingInterval: number;
    cooldownPeriod: number;
    minReplicaCount: number;
    maxReplicaCount: number;
    triggers: { type: 'prometheus'; metricType: 'AverageValue'; metadata: Record<string, string> }[];
  };
}

/** Karpenter `karpenter.sh/v1` NodePool (cluster-scoped), the fields we set. */
export interface NodePool extends Manifest {
  apiVersion: 'karpenter.sh/v1';
  kind: 'NodePool';
  spec: {
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        nodeClassRef: { group: string; kind: string; name: string };
        requirements: { key: string; operator: 'In'; values: string[] }[];
        taints: { key: string; value?: string; effect: string }[];
      };
    };
    limits?: Record<string, string>;
  };
}

/** What every builder needs: the CR (read from the API server, so uid and namespace are set) and the config. */
export interface BuildInput {
  cr: PixtralDeployment;
  config: OperatorConfig;
}
