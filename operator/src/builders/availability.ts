/**
 * Availability children: the PodDisruptionBudget of the serving pods, and the KEDA ScaledObject
 * that scales them on queue depth when maxSize > minSize.
 */
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { autoscaled, maxReplicas } from './deployment.ts';
import { childMetadata, selectorLabels, sortedRecord } from './labels.ts';
import { workloadName } from './names.ts';
import type { BuildInput, ScaledObject } from './types.ts';

/**
 * The PodDisruptionBudget: at most one serving pod evicted at a time. Unhealthy pods may always be
 * evicted, so a crash-looping replica never blocks a node drain.
 */
export function podDisruptionBudget(input: BuildInput): V1PodDisruptionBudget {
  const { cr } = input;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(cr, workloadName(cr), 'server'),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(cr) },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  } as V1PodDisruptionBudget;
}

/** The configured PromQL with `{namespace}` and `{deployment}` filled in. */
export function queueDepthQuery(input: BuildInput): string {
  return input.config.autoscaling.query
    .replaceAll('{namespace}', input.cr.metadata.namespace!)
    .replaceAll('{deployment}', workloadName(input.cr));
}

/**
 * The KEDA ScaledObject (keda.sh/v1alpha1) scaling the Deployment between minSize and maxSize on
 * the queue-depth metric, or undefined when minSize = maxSize (fixed replicas, no autoscaler).
 */
export function scaledObject(input: BuildInput): ScaledObject | undefined {
  if (!autoscaled(input)) return undefined;
  const { cr, config } = input;
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: childMetadata(cr, workloadName(cr), 'autoscaler'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: workloadName(cr) },
      pollingInterval: config.autoscaling.pollingIntervalSeconds,
      cooldownPeriod: config.autoscaling.cooldownPeriodSeconds,
      minReplicaCount: cr.spec.minSize,
      maxReplicaCount: maxReplicas(input),
      triggers: [
        {
          type: 'prometheus',
          metricType: 'AverageValue',
          metadata: sortedRecord({
            query: queueDepthQuery(input),
            serverAddress: config.autoscaling.prometheusServerAddress,
            threshold: String(config.autoscaling.threshold),
          }),
        },
      ],
    },
  };
}
