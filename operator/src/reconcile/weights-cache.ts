/**
 * The weights-cache controller: one key per cache (namespace / PVC name), reconciling the shared
 * PVC and the Job that fills it for every PixtralDeployment of that model in the namespace.
 *
 * No deployment writes the cache on its own behalf. Who uses a cache is computed from the
 * PixtralDeployment cache on every reconcile (a reference count kept in the operator's state, not
 * in the object): the PVC is created when the first user appears and deleted, with its Jobs,
 * when none is left. Nothing holds a finalizer, so no deletion can get stuck; an operator that
 * was down while the last user went finds the unused PVC when it starts (every cached PVC is a
 * key) and deletes it then. The PVC and the Job stay the same size however many share them.
 */
import type {
  CoreV1Event,
  KubernetesObject,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
} from '@kubernetes/client-node';
import { Reason } from '../api/conditions.ts';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { claimOf, configuredModel, desiredWeightsCache, notesOf, weightsPvcName } from '../builders/index.ts';
import type { OperatorConfig } from '../config.ts';
import { Kinds } from '../kinds.ts';
import type {
  Cache,
  KindRef,
  KubeClient,
  ObjectKey,
  Outcome,
  ReconcileContext,
  Reconciler,
} from '../runtime/index.ts';
import { Channel, isKubeApiError, keyString } from '../runtime/index.ts';
import type { ReconcilerWriter } from './deps.ts';
import { apiMessage } from './resource.ts';
import { type Stall, weightsStall } from './stalls.ts';
import { planWeights } from './weights-state.ts';

/** How often a claim or Job that may be stuck is looked at, ms: a stall shows within a minute. */
const STALL_CHECK_MS = 10_000;
/** How often a cache the API server refused is asked for again, ms. */
const REFUSED_RETRY_MS = 60_000;

/** Which object a refused request was about: the Job when its path names jobs, else the PVC. */
function refusedObject(
  err: { path: string },
  key: ObjectKey,
  pvc: V1PersistentVolumeClaim,
): { kind: string; name: string } {
  const job = /\/jobs(?:\/([^/?]+))?/.exec(err.path);
  return job
    ? { kind: 'Job', name: job[1] ?? 'weights' }
    : { kind: 'PersistentVolumeClaim', name: pvc.metadata?.name ?? key.name };
}

/**
 * Why a cache could not be made, for caches the API server refuses for good (a ResourceQuota, an
 * admission policy): there is no PVC to note it on, so it is kept here, in the process, and the
 * users are woken through `changed` to report it. Cleared when a later attempt succeeds.
 */
export class CacheRefusals {
  readonly #byKey = new Map<string, Stall>();
  /** Sends the cache's key (as an object's metadata) when its refusal appears, changes or clears. */
  readonly changed = new Channel();

  get(key: ObjectKey): Stall | undefined {
    return this.#byKey.get(keyString(key));
  }

  set(key: ObjectKey, refusal: Stall | undefined): void {
    const id = keyString(key);
    const before = this.#byKey.get(id);
    if (before?.reason === refusal?.reason && before?.message === refusal?.message) return;
    if (refusal) this.#byKey.set(id, refusal);
    else this.#byKey.delete(id);
    this.changed.send({ metadata: key });
  }
}

/** What the weights-cache reconciler reads and writes. */
export interface WeightsCacheDeps {
  caches: {
    pixtralDeployments: Cache<PixtralDeployment>;
    pvcs: Cache<V1PersistentVolumeClaim>;
    jobs: Cache<V1Job>;
    pods: Cache<V1Pod>;
  };
  client: Pick<KubeClient, 'delete' | 'mergePatch' | 'list'>;
  writer: Pick<ReconcilerWriter, 'apply'>;
  config: OperatorConfig;
  now: () => Date;
  refusals: CacheRefusals;
}

/** The cache `cr` uses, as a weights-cache key; none for a model the catalog does not know. */
export function cacheKeyOf(cr: PixtralDeployment, config: OperatorConfig): ObjectKey | undefined {
  const model = configuredModel(cr.spec.model, config);
  return model ? { namespace: cr.metadata.namespace ?? '', name: weightsPvcName(model) } : undefined;
}

/**
 * The deployments of `namespace` that use cache `name` and are not being deleted, oldest first
 * (the first one's spec sizes a new PVC, so the choice does not flap between reconciles).
 */
export function cacheUsers(
  crs: PixtralDeployment[],
  config: OperatorConfig,
  name: string,
): PixtralDeployment[] {
  return crs
    .filter((cr) => !cr.metadata.deletionTimestamp && cacheKeyOf(cr, config)?.name === name)
    .sort(
      (a, b) => created(a) - created(b) || String(a.metadata.name).localeCompare(String(b.metadata.name)),
    );
}

/** When `cr` was created, ms (a string from the API server, a Date in fixtures). */
const created = (cr: PixtralDeployment) => new Date(String(cr.metadata.creationTimestamp ?? 0)).getTime();

/**
 * Whether `obj` still carries the owner references of the earlier design, where every deployment
 * co-owned the cache (one reference and one field manager each).
 */
function ownedByDeployments(obj: KubernetesObject): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((o) => o.kind === Kinds.PixtralDeployment.kind);
}

export class WeightsCacheReconciler implements Reconciler {
  readonly #d: WeightsCacheDeps;

  constructor(deps: WeightsCacheDeps) {
    this.#d = deps;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Outcome> {
    const { caches, config } = this.#d;
    const { namespace, name } = key;
    const users = cacheUsers(caches.pixtralDeployments.list(namespace), config, name);
    let pvc = caches.pvcs.get(namespace, name);
    const jobs = caches.jobs.list(namespace).filter((job) => claimOf(job) === name);

    if (users.length === 0 || pvc?.metadata?.deletionTimestamp) {
      // The PVC's protection keeps it while any pod mounts it, the finished Job's pods included:
      // the Jobs go first (their pods with them), then the PVC.
      for (const job of jobs) await this.#delete(Kinds.Job, job, ctx);
      if (users.length === 0 && pvc && !pvc.metadata?.deletionTimestamp) {
        ctx.log.info({ pvc: name }, 'Releasing the weights cache: no deployment uses it');
        await this.#delete(Kinds.PersistentVolumeClaim, pvc, ctx);
      }
      // A PVC still terminating is looked at again when it is gone (its delete event).
      return { kind: 'done' };
    }

    // Upgrading from co-ownership: drop every deployment's reference and field manager at once,
    // so the object shrinks back and garbage collection can no longer take the cache away.
    let migrated = false;
    if (pvc && ownedByDeployments(pvc)) {
      pvc = await this.#dropDeploymentOwners(Kinds.PersistentVolumeClaim, pvc, ctx);
      migrated = true;
    }
    // Its Jobs too, finished ones included: garbage collection would take a completed Job once
    // its last co-owner went, and with it the record that the weights are verified.
    const legacyJobs = new Set(jobs.filter(ownedByDeployments));
    for (const job of legacyJobs) await this.#dropDeploymentOwners(Kinds.Job, job, ctx);

    const build = { cr: users[0]!, config };
    const retryBaseMs = config.weights.retryBaseSeconds * 1000;
    const jobName = (live?: V1PersistentVolumeClaim) => desiredWeightsCache(build, live).job?.metadata?.name;
    const current = jobs.find((job) => job.metadata?.name === jobName(pvc));
    const jobPods = current
      ? caches.pods.list(namespace).filter((p) => p.metadata?.labels?.['job-name'] === current.metadata?.name)
      : [];
    const now = this.#d.now();
    const plan = planWeights(current, jobPods, notesOf(pvc), now, retryBaseMs);
    const provisioning = plan.state.state === 'provisioning' || plan.state.state === 'absent';
    const stall = provisioning ? await this.#stall(pvc, current, jobPods, now, ctx) : undefined;
    const desired = desiredWeightsCache(build, pvc, { ...plan, stall });
    try {
      const applied = await this.#d.writer.apply(
        Kinds.PersistentVolumeClaim,
        desired.pvc,
        migrated ? undefined : pvc,
        ctx.signal,
      );
      // A PVC this apply created has a uid only now, and the Job's name and owner need it.
      const job = desired.job ?? desiredWeightsCache(build, applied.object, plan).job;
      if (plan.action === 'ensureJob' && job) {
        // A Job migrated above has no field manager left: apply it in full.
        const live = current && !legacyJobs.has(current) ? current : undefined;
        await this.#d.writer.apply(Kinds.Job, job, live, ctx.signal);
      }
    } catch (err) {
      if (!isKubeApiError(err) || err.retry !== 'terminal') throw err;
      // Refused for good as asked (quota, policy): say so to every user, and ask again now and
      // then, since the quota may be raised without anything the operator watches changing.
      const { kind, name: object } = refusedObject(err, key, desired.pvc);
      this.#d.refusals.set(key, {
        reason: Reason.ApplyFailed,
        message: `The API server refused ${kind} ${namespace}/${object} for the weights cache: ${apiMessage(err)}`,
      });
      return { kind: 'requeueAfter', ms: REFUSED_RETRY_MS };
    }
    this.#d.refusals.set(key, undefined);
    if (plan.action === 'deleteFailedJob' && current) {
      ctx.log.info(
        { job: current.metadata?.name, attempts: plan.attempts },
        'Deleting failed weights Job to retry',
      );
      await this.#delete(Kinds.Job, current, ctx);
    }
    if (plan.state.state === 'ready') {
      // Jobs of an earlier template (another runtime image, say) are done with once this one succeeded.
      for (const stale of jobs) if (stale !== current) await this.#delete(Kinds.Job, stale, ctx);
    }
    // A Pending claim or a Job without pods changes nothing we watch when it gets stuck: only its
    // Events say so, hence a look every STALL_CHECK_MS.
    const watchClosely = pvc?.status?.phase === 'Pending' || (current !== undefined && jobPods.length === 0);
    const retry = plan.action === 'none' ? plan.requeueAfterMs : undefined;
    const next = watchClosely ? Math.min(retry ?? STALL_CHECK_MS, STALL_CHECK_MS) : retry;
    return next !== undefined ? { kind: 'requeueAfter', ms: next } : { kind: 'done' };
  }

  /**
   * Why provisioning is stuck, if it is (stalls.ts). Events are read by the object's uid, and only
   * for a Pending claim or a Job without pods: they are not cached, the rest is of no use here.
   */
  async #stall(
    pvc: V1PersistentVolumeClaim | undefined,
    job: V1Job | undefined,
    jobPods: V1Pod[],
    now: Date,
    ctx: ReconcileContext,
  ): Promise<Stall | undefined> {
    const eventsAbout = async (obj: KubernetesObject | undefined) => {
      const uid = obj?.metadata?.uid;
      if (!uid) return [];
      const list = await this.#d.client.list<CoreV1Event>(Kinds.CoreEvent, {
        namespace: obj.metadata?.namespace,
        fieldSelector: `involvedObject.uid=${uid}`,
        signal: ctx.signal,
      });
      return list.items;
    };
    return weightsStall({
      pvc,
      job,
      jobPods,
      claimEvents: pvc?.status?.phase === 'Pending' ? await eventsAbout(pvc) : [],
      jobEvents: job && jobPods.length === 0 ? await eventsAbout(job) : [],
      now,
    });
  }

  async #delete(kind: KindRef, obj: KubernetesObject, ctx: ReconcileContext): Promise<void> {
    try {
      await this.#d.client.delete(
        kind,
        { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' },
        { propagationPolicy: 'Background', signal: ctx.signal },
      );
    } catch (err) {
      if (!isKubeApiError(err, 404)) throw err;
    }
  }

  /** Removes the owner references and resets the field managers (an update, so none is left behind). */
  async #dropDeploymentOwners<T extends KubernetesObject>(
    kind: KindRef,
    obj: T,
    ctx: ReconcileContext,
  ): Promise<T> {
    ctx.log.info(
      { kind: kind.kind, name: obj.metadata?.name },
      'Dropping per-deployment owners of the weights cache',
    );
    return this.#d.client.mergePatch<T>(
      kind,
      { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' },
      { metadata: { ownerReferences: null, managedFields: [{}] } },
      { signal: ctx.signal },
    );
  }
}
