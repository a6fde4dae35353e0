/**
 * The status of a PixtralDeployment as a pure function of what the reconciler observed (see
 * docs/conventions.md#gather-compute-apply-report). No clock reads: `now` is a parameter, and `setCondition` keeps
 * lastTransitionTime unless a condition flips, so an unchanged world computes an unchanged status
 * and the reconciler writes nothing.
 */
import type { V1Deployment, V1Job, V1Pod } from '@kubernetes/client-node';
import {
  type Condition,
  ConditionType,
  type ConditionUpdate,
  Reason,
  setCondition,
} from '../api/conditions.ts';
import type { Phase, PixtralDeployment, PixtralDeploymentStatus } from '../api/pixtral-deployment.ts';
import { withKstatusConditions } from './kstatus.ts';
import { provisionerFailure } from './provisioner-result.ts';
import type { Stall } from './stalls.ts';

/** The weights cache as observed: its Job's state, or a failure the reconciler is backing off from. */
export type WeightsState =
  | { state: 'absent' }
  | { state: 'provisioning'; message: string }
  | { state: 'ready' }
  | {
      state: 'failed';
      reason: 'WeightsFailed' | 'WeightsDigestMismatch';
      message: string;
      /** When the next Job starts; undefined when it is not retried (a digest mismatch). */
      retryInMs: number | undefined;
    };

/** Everything `computeStatus` looks at, gathered from the caches by the reconciler. */
export interface Observed {
  weights: WeightsState;
  /** The weights revision and digest to report once the weights are ready. */
  weightsIdentity: { revision: string; digest: string };
  /** Failed provisioning attempts since the last success, and the time of the last one (RFC 3339). */
  weightsAttempts: { attempts: number; lastFailureTime?: string | undefined };
  deployment?: V1Deployment | undefined;
  /** Serving pods of this deployment. */
  pods: V1Pod[];
  endpoints: { public?: string | undefined; private?: string | undefined };
  /** A reason the spec cannot be served with the operator's configuration, if any. */
  configError?: { reason: string; message: string } | undefined;
  /**
   * What WeightsReady says once the weights Job succeeded, when that is not a verified download
   * (local mode: kwok completes the Job, nothing is fetched). Default: WeightsVerified.
   */
  weightsSource?: { reason: string; message: string } | undefined;
  /** Why the weights cache does not move on (a Pending claim, a Job pod that cannot run), if it is stuck. */
  weightsStall?: Stall | undefined;
  /** Why the serving pods do not move on (image pull, crash loop, unschedulable, FailedCreate), if stuck. */
  servingStall?: Stall | undefined;
}

/** A short, user-facing summary of why weights provisioning failed, from the Job and its pods' reports. */
export function weightsFailureMessage(job: V1Job, pods: V1Pod[]): string {
  const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  const run = provisionerFailure(pods);
  const parts = [`Weights Job ${job.metadata?.name} failed`];
  if (failed?.reason) parts.push(`(${failed.reason}${failed.message ? `: ${failed.message}` : ''})`);
  if (run) parts.push(`- ${run.summary}`);
  return parts.join(' ');
}

function rolledOut(deployment: V1Deployment | undefined): boolean {
  if (!deployment) return false;
  const s = deployment.status ?? {};
  const wanted = deployment.spec?.replicas ?? s.replicas ?? 0;
  return (
    (s.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) >= wanted &&
    (s.replicas ?? 0) <= wanted
  );
}

/** The next status for `cr`, which is not being deleted (see `deletingStatus`). Pure: same inputs, same output. */
export function computeStatus(cr: PixtralDeployment, observed: Observed, now: Date): PixtralDeploymentStatus {
  const generation = (cr.metadata as { generation?: number }).generation ?? 0;
  const old = cr.status ?? {};
  let conditions: Condition[] = old.conditions ?? [];
  const set = (update: Omit<ConditionUpdate, 'observedGeneration'>) => {
    conditions = setCondition(conditions, { ...update, observedGeneration: generation }, now);
  };
  const readyReplicas = observed.deployment?.status?.readyReplicas ?? 0;
  const w = observed.weights;

  // WeightsReady
  if (w.state === 'ready')
    set({
      type: ConditionType.WeightsReady,
      status: 'True',
      ...(observed.weightsSource ?? {
        reason: Reason.WeightsVerified,
        message: 'Every weights file is present and matches its SHA-256',
      }),
    });
  else if (w.state === 'failed')
    set({
      type: ConditionType.WeightsReady,
      status: 'False',
      reason: w.reason,
      message:
        w.retryInMs === undefined
          ? `${w.message}; not retried, since the same bytes would come again: check the catalog and the hub, then delete the Job to try again`
          : `${w.message}; retrying in ${Math.ceil(w.retryInMs / 1000)} s`,
    });
  else if (observed.weightsStall)
    set({ type: ConditionType.WeightsReady, status: 'False', ...observed.weightsStall });
  else
    set({
      type: ConditionType.WeightsReady,
      status: 'False',
      reason: Reason.WeightsProvisioning,
      message: w.state === 'provisioning' ? w.message : 'Creating the weights cache',
    });

  // Available: minSize 0 (scaled to zero, woken by the autoscaler) needs no ready replica.
  const needed = cr.spec.minSize;
  const available = w.state === 'ready' && readyReplicas >= needed;
  set(
    available
      ? {
          type: ConditionType.Available,
          status: 'True',
          reason: Reason.MinimumReplicasAvailable,
          message: `${readyReplicas} of ${needed} required replicas are ready`,
        }
      : {
          type: ConditionType.Available,
          status: 'False',
          reason: Reason.MinimumReplicasUnavailable,
          message: `${readyReplicas} of ${needed} required replicas are ready`,
        },
  );

  // Degraded: what needs a human.
  const stall = w.state === 'ready' ? observed.servingStall : observed.weightsStall;
  if (observed.configError) set({ type: ConditionType.Degraded, status: 'True', ...observed.configError });
  else if (w.state === 'failed')
    set({ type: ConditionType.Degraded, status: 'True', reason: w.reason, message: w.message });
  else if (stall)
    set({
      type: ConditionType.Degraded,
      status: 'True',
      reason: stall.reason,
      message:
        stall.reason === Reason.InsufficientGPU
          ? `${stall.message}. Add ${cr.spec.nodeType} nodes with free GPUs or lower spec.minSize`
          : stall.message,
    });
  else
    set({
      type: ConditionType.Degraded,
      status: 'False',
      reason: Reason.AsExpected,
      message: 'Nothing needs attention',
    });

  // Phase
  let phase: Phase;
  if (observed.configError || w.state === 'failed') phase = 'Error';
  else if (w.state === 'absent') phase = 'Creating';
  else if (w.state === 'provisioning') phase = 'ProvisioningWeights';
  else if (available && rolledOut(observed.deployment)) phase = 'Ready';
  else phase = 'Deploying';

  // Progressing
  if (phase === 'Ready' || phase === 'Error') {
    set({
      type: ConditionType.Progressing,
      status: 'False',
      reason: phase === 'Ready' ? Reason.DeploymentReady : Reason.AsExpected,
      message: phase === 'Ready' ? 'The deployment matches its spec' : `Phase is ${phase}`,
    });
  } else if (phase === 'Deploying') {
    const loading = observed.pods.some((p) => p.status?.phase === 'Running') && readyReplicas < needed;
    set({
      type: ConditionType.Progressing,
      status: 'True',
      reason: stall ? stall.reason : loading ? Reason.ModelLoading : Reason.RollingOut,
      message: stall
        ? `Waiting: ${stall.message}`
        : loading
          ? 'vLLM is loading the weights'
          : 'Rolling out serving pods',
    });
  } else {
    set({
      type: ConditionType.Progressing,
      status: 'True',
      reason: Reason.WeightsProvisioning,
      message: 'Provisioning the model weights',
    });
  }

  // Ready: what `kubectl wait --for=condition=Ready` waits on.
  set(
    phase === 'Ready'
      ? {
          type: ConditionType.Ready,
          status: 'True',
          reason: Reason.DeploymentReady,
          message: `Serving ${cr.spec.model} with ${readyReplicas} ready replica(s)`,
        }
      : {
          type: ConditionType.Ready,
          status: 'False',
          reason:
            phase === 'Error'
              ? (conditions.find((c) => c.type === ConditionType.Degraded)?.reason ?? Reason.AsExpected)
              : phase,
          message: `Phase is ${phase}`,
        },
  );

  const weights: NonNullable<PixtralDeploymentStatus['weights']> = {};
  if (w.state === 'ready') {
    weights.revision = observed.weightsIdentity.revision;
    weights.digest = observed.weightsIdentity.digest;
  }
  if (observed.weightsAttempts.attempts > 0) {
    weights.attempts = observed.weightsAttempts.attempts;
    if (observed.weightsAttempts.lastFailureTime)
      weights.lastFailureTime = observed.weightsAttempts.lastFailureTime;
  }
  const endpoints: NonNullable<PixtralDeploymentStatus['endpoints']> = {};
  if (observed.endpoints.public) endpoints.public = observed.endpoints.public;
  if (observed.endpoints.private) endpoints.private = observed.endpoints.private;

  return {
    // metadata.uid: generated by the API server, immutable, so it never changes, also across restarts.
    uuid: String(cr.metadata.uid),
    phase,
    endpoints,
    ...(endpoints.public || endpoints.private ? { endpoint: endpoints.public ?? endpoints.private } : {}),
    readyReplicas,
    observedGeneration: generation,
    conditions: withKstatusConditions(conditions, generation, now),
    ...(Object.keys(weights).length > 0 ? { weights } : {}),
  };
}

/**
 * The status of a resource being deleted: phase Deleting, and Progressing and Ready False with
 * reason Deleting so no condition contradicts the phase. The rest (uuid, weights, endpoints) is
 * kept: a status apply that omits a field the operator owns would remove it.
 */
export function deletingStatus(cr: PixtralDeployment, now: Date): PixtralDeploymentStatus {
  const generation = (cr.metadata as { generation?: number }).generation ?? 0;
  const old = cr.status ?? {};
  let conditions = old.conditions ?? [];
  for (const type of [ConditionType.Progressing, ConditionType.Ready]) {
    conditions = setCondition(
      conditions,
      {
        type,
        status: 'False',
        reason: Reason.Deleting,
        message: 'Phase is Deleting',
        observedGeneration: generation,
      },
      now,
    );
  }
  return {
    ...old,
    phase: 'Deleting',
    observedGeneration: generation,
    conditions: withKstatusConditions(conditions, generation, now),
  };
}
