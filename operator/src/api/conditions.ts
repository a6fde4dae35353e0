/**
 * Condition types and reasons of PixtralDeployment, and `setCondition`. Reasons are CamelCase
 * constants (metav1.Condition requires the pattern below); messages are sentences that tell the
 * user what happened and what to change.
 */
import { z } from 'zod';

/** metav1.Condition `type` pattern (k8s.io/apimachinery). */
export const CONDITION_TYPE_PATTERN =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
/** metav1.Condition `reason` pattern (k8s.io/apimachinery). */
export const CONDITION_REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** Condition types, as `kubectl wait --for=condition=<type>` names them. */
export const ConditionType = {
  /** True when the weights cache holds every file of the model, SHA-256 verified. */
  WeightsReady: 'WeightsReady',
  /** True when at least minSize replicas (and at least one) serve requests through their endpoints. */
  Available: 'Available',
  /** True while the operator is moving towards the spec: provisioning, rolling out or scaling. */
  Progressing: 'Progressing',
  /** True when something needs the user or the platform team: bad config, no GPUs, failed weights. */
  Degraded: 'Degraded',
  /** True when Available is True and nothing is Degraded; what `kubectl wait --for=condition=Ready` waits on. */
  Ready: 'Ready',
  /**
   * kstatus' (Flux, kpt, `kubectl wait`-style tools) "still working": True while Progressing is
   * True and nothing is Degraded; False otherwise. Without it kstatus calls a resource Current as
   * soon as observedGeneration matches, before anything serves.
   */
  Reconciling: 'Reconciling',
  /** kstatus' "cannot make progress without help": True exactly when Degraded is True. */
  Stalled: 'Stalled',
} as const;
/** One condition type. */
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Reasons, one per situation a user can tell apart. */
export const Reason = {
  /** The weights Job is downloading and verifying the files. */
  WeightsProvisioning: 'WeightsProvisioning',
  /** Every weights file is present and its SHA-256 matches the catalog. */
  WeightsVerified: 'WeightsVerified',
  /** The weights Job failed (download, disk full, gated repository without a token); it is retried with backoff. */
  WeightsFailed: 'WeightsFailed',
  /** A downloaded file's SHA-256 differs from the catalog: the file was discarded. */
  WeightsDigestMismatch: 'WeightsDigestMismatch',
  /** Pods are Pending because no node of the requested type has free GPUs. */
  InsufficientGPU: 'InsufficientGPU',
  /** The Deployment is rolling out new pods. */
  RollingOut: 'RollingOut',
  /** vLLM is loading the weights; the startup probe has not passed yet. */
  ModelLoading: 'ModelLoading',
  /** At least minSize replicas are ready. */
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  /** Fewer than minSize replicas are ready. */
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  /** Pods are Pending because no node fits for another reason (selector, taint, volume); the scheduler's message says which. */
  Unschedulable: 'Unschedulable',
  /** Serving containers restart repeatedly (CrashLoopBackOff). */
  CrashLooping: 'CrashLooping',
  /** A container's image cannot be pulled (ErrImagePull, ImagePullBackOff, InvalidImageName). */
  ImagePullFailed: 'ImagePullFailed',
  /** A container cannot be created from its configuration (CreateContainerConfigError). */
  ContainerConfigInvalid: 'ContainerConfigInvalid',
  /** A ReplicaSet or Job cannot create pods (missing PriorityClass, quota, PodSecurity). */
  PodCreateFailed: 'PodCreateFailed',
  /** The Deployment made no progress within its progress deadline. */
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  /** The weights PersistentVolumeClaim stays Pending (no such StorageClass, no provisioner, no volume). */
  VolumePending: 'VolumePending',
  /** The API server refused a write the operator cannot retry away (403, quota, admission webhook). */
  ApplyFailed: 'ApplyFailed',
  /** The spec needs an optional API (KEDA, Karpenter) that is not installed or not permitted. */
  IntegrationMissing: 'IntegrationMissing',
  /** An object with a child's name exists and is not controlled by this resource; it is left untouched. */
  AlreadyOwned: 'AlreadyOwned',
  /** The spec passed the schema but cannot be served with the operator's configuration (e.g. no baseDomain for a public endpoint). */
  InvalidConfiguration: 'InvalidConfiguration',
  /** Everything the spec asks for is in place and serving. */
  DeploymentReady: 'DeploymentReady',
  /** The resource is being deleted; children are released. */
  Deleting: 'Deleting',
  /** Nothing is wrong. */
  AsExpected: 'AsExpected',
} as const;
/** One reason. */
export type Reason = (typeof Reason)[keyof typeof Reason];

/** metav1.Condition, field for field (same limits and patterns as k8s.io/apimachinery). */
export const ConditionSchema = z.strictObject({
  type: z.string().min(1).max(316).regex(CONDITION_TYPE_PATTERN),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.int().min(0).meta({ format: 'int64' }).optional(),
  lastTransitionTime: z.iso.datetime(),
  reason: z.string().min(1).max(1024).regex(CONDITION_REASON_PATTERN),
  message: z.string().max(32768),
});

/** One metav1.Condition (the type of `ConditionSchema`, the one source). */
export type Condition = z.output<typeof ConditionSchema>;

/** What a caller sets; `lastTransitionTime` is decided by `setCondition`. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

/**
 * Returns `conditions` with `update` applied, without touching the input (pure: docs/conventions.md#conditions):
 * - a new type is appended with `lastTransitionTime = now`;
 * - an existing type keeps its `lastTransitionTime` unless `status` flips, so re-reconciling
 *   an unchanged world writes nothing;
 * - reason, message and observedGeneration are always replaced.
 * `now` is a parameter so tests drive time; it is written in RFC 3339 at second precision,
 * the way the API server stores metav1.Time.
 */
export function setCondition(
  conditions: readonly Condition[],
  update: ConditionUpdate,
  now: Date,
): Condition[] {
  const stamp = `${now.toISOString().slice(0, 19)}Z`;
  const index = conditions.findIndex((c) => c.type === update.type);
  if (index === -1) return [...conditions, { ...update, lastTransitionTime: stamp }];
  const old = conditions[index]!;
  const lastTransitionTime = old.status === update.status ? old.lastTransitionTime : stamp;
  const next = [...conditions];
  next[index] = { ...update, lastTransitionTime };
  return next;
}
