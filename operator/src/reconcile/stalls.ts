/**
 * Why a deployment is stuck, in Kubernetes' own words. Pure: the reconciler gathers the objects
 * (and, for a Pending claim or a Job without pods, the Events about them) and these functions
 * name the first problem with the object it concerns and the message Kubernetes gave. The status
 * puts it in the Degraded condition and the reconciler in an Event, so `kubectl wait
 * --for=condition=Degraded` catches every stall instead of a Ready wait timing out in silence.
 */
import type {
  CoreV1Event,
  V1Deployment,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
} from '@kubernetes/client-node';
import { Reason } from '../api/conditions.ts';
import { GPU_RESOURCE } from '../builders/placement.ts';

/** A reason the deployment cannot move on, about one object. */
export interface Stall {
  reason: string;
  /** `<Kind> <namespace>/<name>: <what Kubernetes says>`. */
  message: string;
}

/**
 * How long a claim may stay Pending with only Normal Events (an external provisioner at work,
 * waiting for a first consumer) before it counts as stuck, ms. A Warning counts at once.
 */
export const PENDING_CLAIM_GRACE_MS = 30_000;

const name = (kind: string, obj: { metadata?: { namespace?: string; name?: string } }) =>
  `${kind} ${obj.metadata?.namespace}/${obj.metadata?.name}`;

/** Container waiting reasons that never resolve by waiting, with the condition reason they map to. */
const WAITING: Record<string, string> = {
  ImagePullBackOff: Reason.ImagePullFailed,
  ErrImagePull: Reason.ImagePullFailed,
  InvalidImageName: Reason.ImagePullFailed,
  CrashLoopBackOff: Reason.CrashLooping,
  CreateContainerConfigError: Reason.ContainerConfigInvalid,
  CreateContainerError: Reason.ContainerConfigInvalid,
};

/** A container that cannot start or keeps crashing: which pod, container and image, and why. */
function containerProblem(pods: V1Pod[]): Stall | undefined {
  for (const pod of pods) {
    const specs = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const s of statuses) {
      const waiting = s.state?.waiting;
      const reason = waiting?.reason ? WAITING[waiting.reason] : undefined;
      if (!waiting || !reason) continue;
      const image = specs.find((c) => c.name === s.name)?.image ?? s.image;
      const restarts = waiting.reason === 'CrashLoopBackOff' ? ` (restarted ${s.restartCount} times)` : '';
      const detail = waiting.message ? `: ${waiting.message}` : '';
      return {
        reason,
        message: `${name('Pod', pod)}: container ${s.name} (image ${image}) is in ${waiting.reason}${restarts}${detail}`,
      };
    }
  }
  return undefined;
}

/**
 * A pod the scheduler could not place. InsufficientGPU only when the scheduler says GPUs are
 * short; a selector, taint or volume that no node satisfies is Unschedulable with its message.
 */
function schedulingProblem(pods: V1Pod[]): Stall | undefined {
  for (const pod of pods) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status !== 'False' || scheduled.reason !== 'Unschedulable') continue;
    const said = scheduled.message ?? 'no node fits';
    return {
      reason: said.includes(`Insufficient ${GPU_RESOURCE}`) ? Reason.InsufficientGPU : Reason.Unschedulable,
      message: `${name('Pod', pod)} cannot be scheduled: ${said}`,
    };
  }
  return undefined;
}

/** The first problem of a set of pods: containers that cannot run, then pods that cannot be placed. */
export function podsProblem(pods: V1Pod[]): Stall | undefined {
  return containerProblem(pods) ?? schedulingProblem(pods);
}

/**
 * The Deployment's own word: a ReplicaSet that cannot create pods (a missing PriorityClass, a
 * quota, PodSecurity; the Deployment controller copies its ReplicaFailure condition), or a rollout
 * past its progress deadline.
 */
export function deploymentProblem(deployment: V1Deployment | undefined): Stall | undefined {
  const conditions = deployment?.status?.conditions ?? [];
  const failure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (failure) {
    return {
      reason: Reason.PodCreateFailed,
      message: `${name('Deployment', deployment!)} cannot create pods (${failure.reason}): ${failure.message}`,
    };
  }
  const progressing = conditions.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return {
      reason: Reason.ProgressDeadlineExceeded,
      message: `${name('Deployment', deployment!)}: ${progressing.message}`,
    };
  }
  return undefined;
}

/** The newest of `events` (by last occurrence). */
export function latestEvent(events: CoreV1Event[]): CoreV1Event | undefined {
  const at = (e: CoreV1Event) =>
    new Date(
      (e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0) as
        | string
        | Date,
    ).getTime();
  return [...events].sort((a, b) => at(b) - at(a))[0];
}

/**
 * A weights claim still Pending: stuck at once when the newest Event about it is a Warning (no
 * such StorageClass, provisioning failed), or after `graceMs` with whatever it says.
 */
export function claimProblem(
  pvc: V1PersistentVolumeClaim | undefined,
  events: CoreV1Event[],
  now: Date,
  graceMs = PENDING_CLAIM_GRACE_MS,
): Stall | undefined {
  if (pvc?.status?.phase !== 'Pending') return undefined;
  const event = latestEvent(events);
  const created = new Date(pvc.metadata?.creationTimestamp ?? now).getTime();
  if (event?.type !== 'Warning' && now.getTime() - created < graceMs) return undefined;
  const said = event ? `${event.reason}: ${event.message}` : 'no Event explains it';
  return {
    reason: Reason.VolumePending,
    message: `${name('PersistentVolumeClaim', pvc)} is Pending (storage class ${pvc.spec?.storageClassName ?? '(default)'}, access ${(pvc.spec?.accessModes ?? []).join(',')}): ${said}`,
  };
}

/** A running Job that has no pod because creating it failed (FailedCreate Events: PodSecurity, quota). */
export function jobProblem(
  job: V1Job | undefined,
  jobPods: V1Pod[],
  events: CoreV1Event[],
): Stall | undefined {
  if (!job || jobPods.length > 0) return undefined;
  const failed = events.filter((e) => e.type === 'Warning' && e.reason === 'FailedCreate');
  const event = latestEvent(failed);
  if (!event) return undefined;
  return {
    reason: Reason.PodCreateFailed,
    message: `${name('Job', job)} cannot create its pod: ${event.message}`,
  };
}

/** PV controller Event reasons for a claim whose binding waits for its pod to be scheduled. */
const WAITS_FOR_POD = new Set(['WaitForFirstConsumer', 'WaitForPodScheduled']);

/** What `weightsStall` looks at: the cache's claim, its current Job and pods, and their Events. */
export interface WeightsObserved {
  pvc: V1PersistentVolumeClaim | undefined;
  job: V1Job | undefined;
  jobPods: V1Pod[];
  /** Events about the claim (read only while it is Pending). */
  claimEvents: CoreV1Event[];
  /** Events about the Job (read only while it runs without a pod). */
  jobEvents: CoreV1Event[];
  now: Date;
}

/**
 * Why a weights cache is stuck, if it is: a claim's Warning (no such class, provisioning failed)
 * says most; otherwise the Job pod's own state (the scheduler names the volume it cannot bind),
 * then a claim pending past its grace, then the Job's FailedCreate Events when it has no pod.
 */
export function weightsStall(o: WeightsObserved): Stall | undefined {
  const latest = latestEvent(o.claimEvents);
  const pod = podsProblem(o.jobPods);
  // A pod the scheduler holds back for an unbound claim (the scheduler says only that) is the
  // claim's problem, unless binding waits for the pod itself (WaitForFirstConsumer; once a pod
  // uses the claim the PV controller says WaitForPodScheduled): then the scheduler names the
  // volume it cannot find.
  const claimFirst =
    latest?.type === 'Warning' ||
    (pod?.reason === Reason.Unschedulable && !WAITS_FOR_POD.has(latest?.reason ?? ''));
  const claim = claimProblem(o.pvc, o.claimEvents, o.now, claimFirst ? 0 : undefined);
  if (claim && claimFirst) return claim;
  if (pod ?? claim) return pod ?? claim;
  const failed = o.job?.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True');
  return o.job && !failed ? jobProblem(o.job, o.jobPods, o.jobEvents) : undefined;
}
