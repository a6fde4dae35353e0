/**
 * Wires the weights-cache controller (reconcile/weights-cache.ts) into a runtime Manager: one key
 * per shared cache (namespace / PVC name), from the managed PVCs themselves, from the
 * PixtralDeployments (the cache each uses), from the weights Jobs (the PVC they fill), and from
 * the PixtralDeployment reconciler asking for a cache that does not exist yet. What users must
 * know is noted on the PVC, or for a cache the API server refuses, kept in `refusals`.
 */
import type { KubernetesObject, V1Job } from '@kubernetes/client-node';
import type { PixtralDeployment } from './api/pixtral-deployment.ts';
import { claimOf } from './builders/index.ts';
import type { OperatorConfig } from './config.ts';
import { Kinds, managed } from './kinds.ts';
import { CacheRefusals, cacheKeyOf, WeightsCacheReconciler } from './reconcile/weights-cache.ts';
import { Channel, Controller, type Manager, type ObjectKey } from './runtime/index.ts';

/** A key as a list for a watch's map: none when undefined. */
const optional = (key: ObjectKey | undefined): ObjectKey[] => (key ? [key] : []);

/** Registers the weights-cache controller on `manager`; returns it, and how to ask it for a cache. */
export function addWeightsCacheController(
  manager: Manager,
  config: OperatorConfig,
  options: { now?: () => Date } = {},
): { controller: Controller; want: (key: ObjectKey) => void; refusals: CacheRefusals } {
  const refusals = new CacheRefusals();
  const pvcKind = managed(Kinds.PersistentVolumeClaim);
  const jobKind = managed(Kinds.Job);
  const podKind = managed(Kinds.Pod);
  const wanted = new Channel();
  const jobs = manager.cache<V1Job>(jobKind);
  // A Job: the cache it fills. A provisioner pod: its Job's (the pod cache keeps no volumes).
  const ofJob = (job: KubernetesObject | undefined): ObjectKey[] => {
    const claim = job && claimOf(job as V1Job);
    return claim ? [{ namespace: job.metadata?.namespace ?? '', name: claim }] : [];
  };
  const ofPod = (pod: KubernetesObject): ObjectKey[] => {
    const jobName = pod.metadata?.labels?.['job-name'];
    return jobName ? ofJob(jobs.get(pod.metadata?.namespace ?? '', jobName)) : [];
  };
  const controller = new Controller({
    name: 'weightscache',
    forKind: pvcKind,
    watches: [
      { kind: Kinds.PixtralDeployment, map: (cr) => optional(cacheKeyOf(cr as PixtralDeployment, config)) },
      { kind: jobKind, map: ofJob },
      // A provisioner pod's state (unschedulable, an image it cannot pull) is part of the cache's stall.
      { kind: podKind, map: ofPod },
      // `send` carries the key as an object's metadata.
      {
        source: wanted,
        map: (obj) => [{ namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' }],
      },
    ],
    reconciler: new WeightsCacheReconciler({
      caches: {
        pixtralDeployments: manager.cache<PixtralDeployment>(Kinds.PixtralDeployment),
        pvcs: manager.cache(pvcKind),
        jobs,
        pods: manager.cache(podKind),
      },
      client: manager.client,
      writer: manager.writer,
      config,
      now: options.now ?? (() => new Date()),
      refusals,
    }),
    // Few keys (one per model and namespace), each cheap: two workers keep one slow API call
    // from holding up every other namespace.
    workers: 2,
  });
  manager.add(controller);
  return { controller, want: (key) => wanted.send({ metadata: key }), refusals };
}
