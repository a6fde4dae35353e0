/**
 * The operator's runtime: informers, work queue, server-side apply, leader election, events,
 * health and metrics, composed by `Manager` and `Controller`.
 */
export {
  assertAdoptable,
  FIELD_MANAGER,
  hasFinalizer,
  needsApply,
  retryOnConflict,
  Writer,
} from './apply.ts';
export { KubeClient, type WatchEvent } from './client.ts';
export { type Clock, FakeClock, realClock } from './clock.ts';
export {
  loadRuntimeConfig,
  type RuntimeConfig,
  RuntimeConfigError,
  RuntimeConfigSchema,
  watchedNamespaces,
} from './config.ts';
export {
  Channel,
  Controller,
  type ControllerOptions,
  type EventSource,
  type MappedWatch,
  type Outcome,
  type ReconcileContext,
  type Reconciler,
  type WatchedKind,
} from './controller.ts';
export {
  describeResource,
  isKubeApiError,
  isRetryable,
  KubeApiError,
  ReconcileError,
  type ResourceRef,
} from './errors.ts';
export { EventRecorder, type EventType } from './events.ts';
export { type Cache, Informer, type InformerEvent } from './informer.ts';
export { BuiltinKinds, type KindRef, keyString, type ObjectKey, parseKey } from './kinds.ts';
export { loadKubeConfig, NoClusterConfiguredError } from './kubeconfig.ts';
export { LeaderElector } from './leader-election.ts';
export { createOperatorLogger, createProcessLogger, humanOutput, type LogFormat } from './logger.ts';
export { LeadershipLostError, Manager, type ManagerOptions } from './manager.ts';
export { MemoryCache } from './memory-cache.ts';
export { RuntimeMetrics, WRITE_VERBS } from './metrics.ts';
export { abortOnSignals, runManager, runUntilSignalled, type ShutdownSignal } from './process.ts';
export { WorkQueue } from './workqueue.ts';
