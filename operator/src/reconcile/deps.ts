/**
 * What the PixtralDeployment reconciler and its helpers (api-keys.ts, finalize.ts) need from the
 * outside world, in one module they all import (so none of them imports another for a type).
 * Each part is the narrow slice of a runtime class the reconcile uses, so table tests can pass
 * in-memory caches and recording fakes (reconcile/testing.ts) instead of an API server.
 */
import type { V1Deployment, V1Job, V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import type { OperatorConfig } from '../config.ts';
import type { Cache, EventRecorder, KubeClient, ObjectKey, Writer } from '../runtime/index.ts';
import type { Integrations } from './integrations.ts';
import type { Stall } from './stalls.ts';

/** The API requests a reconcile sends outside the Writer: reads of uncached objects, creates, deletes. */
export type ReconcilerClient = Pick<KubeClient, 'get' | 'create' | 'delete'>;
/** The writes of a reconcile: applies, status, finalizers. */
export type ReconcilerWriter = Pick<Writer, 'apply' | 'applyStatus' | 'ensureFinalizer' | 'removeFinalizer'>;
/** Events about the resource. */
export type ReconcilerEvents = Pick<EventRecorder, 'record'>;

/** The caches the reconciler reads (all filled by informers; reconcile never lists the API server). */
export interface Caches {
  pixtralDeployments: Cache<PixtralDeployment>;
  deployments: Cache<V1Deployment>;
  /** Secrets the operator made (label-selected): generated keys and key hashes. */
  secrets: Cache<V1Secret>;
  /** The cache of one user-named key Secret (`spec.apiKeys.secretName`), made on first use. */
  namedSecret: (namespace: string, name: string) => Cache<V1Secret>;
  pvcs: Cache<V1PersistentVolumeClaim>;
  jobs: Cache<V1Job>;
  pods: Cache<V1Pod>;
  /**
   * Caches of every kind the CR controls, by kind name (Deployment, Service, Ingress,
   * PodDisruptionBudget, Secret, and ScaledObject when KEDA is installed). The Manager shares one
   * cache per kind and selector, so Deployment and Secret are the `deployments` and `secrets` above.
   */
  owned: Map<string, Cache>;
  nodePools?: Cache | undefined;
}

/** What the reconciler needs from the outside world. */
export interface ReconcilerDeps {
  caches: Caches;
  client: ReconcilerClient;
  writer: ReconcilerWriter;
  /** A Writer under another field manager (the replicas hand-off). */
  writerFor: (fieldManager: string) => ReconcilerWriter;
  events: ReconcilerEvents;
  config: OperatorConfig;
  /** Wall-clock time for status timestamps and backoff. */
  now: () => Date;
  /** Which optional APIs (KEDA, Karpenter) are available right now; kept current by the controller. */
  integrations: Integrations;
  /**
   * Asks the weights-cache controller for a cache that does not exist (yet): its watch of
   * PixtralDeployments sees new ones, but not those that were there before it started leading.
   */
  wantWeightsCache?: ((key: ObjectKey) => void) | undefined;
  /** Why the API server refused to make a weights cache, by cache key (weights-cache.ts). */
  weightsCacheRefusal?: ((key: ObjectKey) => Stall | undefined) | undefined;
  /** WeightsReady's reason and message when the weights are not a verified download (local mode). */
  weightsSource?: { reason: string; message: string } | undefined;
}
