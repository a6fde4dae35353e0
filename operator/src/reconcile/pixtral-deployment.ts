/**
 * The PixtralDeployment reconciler: gather from the caches, compute the desired children with
 * the pure builders, apply them with server-side apply, then compute and write status (docs/conventions.md#gather-compute-apply-report).
 * Level-triggered: it never assumes what happened before, and when the world already matches it
 * sends no write at all (the Writer skips applies whose fields are already in place).
 */
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { ConditionType, Reason } from '../api/conditions.ts';
import type { PixtralDeployment, PixtralDeploymentStatus } from '../api/pixtral-deployment.ts';
import { REPLICAS_HANDOFF_MANAGER, replicasHandoff } from '../builders/deployment.ts';
import {
  configuredModel,
  type DesiredChildren,
  desiredChildren,
  desiredWeightsCache,
  notesOf,
  weightsPvcName,
} from '../builders/index.ts';
import { instanceLabel } from '../builders/labels.ts';
import type { CatalogModel } from '../catalog/index.ts';
import { Kinds } from '../kinds.ts';
import { appliedBy } from '../runtime/applied-fields.ts';
import { controllerRef } from '../runtime/apply.ts';
import type { Outcome, ReconcileContext, Reconciler } from '../runtime/index.ts';
import { type KindRef, type ObjectKey, ReconcileError } from '../runtime/index.ts';
import { ensureApiKeys } from './api-keys.ts';
import type { ReconcilerDeps } from './deps.ts';
import { finalize, NODE_POOL_FINALIZER, syncNodePools } from './finalize.ts';
import { type Integrations, missingMessage } from './integrations.ts';

export type { Caches, ReconcilerDeps } from './deps.ts';

import { apiMessage, resource, uidOf, wrap } from './resource.ts';
import { deploymentProblem, podsProblem, type Stall } from './stalls.ts';
import { computeStatus } from './status.ts';
import { planWeights, type WeightsPlan, weightsDigest } from './weights-state.ts';

/** The status problem of a deployment that needs an optional API that is not available. */
function integrationProblem(
  integrations: Integrations,
  wantsKeda: boolean,
  wantsKarpenter: boolean,
): Stall | undefined {
  for (const [name, wanted] of [
    ['karpenter', wantsKarpenter],
    ['keda', wantsKeda],
  ] as const) {
    if (wanted && !integrations[name].available)
      return { reason: Reason.IntegrationMissing, message: missingMessage(name, integrations[name]) };
  }
  return undefined;
}

/** Reconciles one PixtralDeployment. */
export class PixtralDeploymentReconciler implements Reconciler {
  readonly #d: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Outcome> {
    const { caches, config } = this.#d;
    const cr = caches.pixtralDeployments.get(key.namespace, key.name);
    if (!cr) return { kind: 'done' };
    if (cr.metadata.deletionTimestamp) {
      await finalize(cr, this.#d, ctx);
      return { kind: 'done' };
    }
    const signal = ctx.signal;
    const model = configuredModel(cr.spec.model, config);
    if (!model)
      throw new ReconcileError(
        'InvalidSpec',
        resource(cr),
        'terminal',
        `PixtralDeployment ${key.namespace}/${key.name}: unknown model ${cr.spec.model}`,
      );
    if (config.nodePools.provider === 'karpenter') {
      await this.#d.writer.ensureFinalizer(Kinds.PixtralDeployment, cr, NODE_POOL_FINALIZER, signal);
    }

    const apiKeys = await ensureApiKeys(cr, this.#d, signal);
    // The namespace's managed pods: the weights Job's and the serving ones, told apart by label.
    const pods = caches.pods.list(key.namespace);
    const desired = desiredChildren({ cr, config, userApiKeys: apiKeys });
    const { plan, weightsStall } = this.#observeWeights(cr, model, pods);
    const deploymentName = desired.deployment.metadata!.name!;
    const { problem: applyProblem, written } = await this.#applyChildren(
      cr,
      desired,
      plan.state.state === 'ready',
      signal,
    );

    const serving = pods.filter(
      (p) =>
        p.metadata?.labels?.['app.kubernetes.io/instance'] === instanceLabel(cr) &&
        p.metadata?.labels?.['app.kubernetes.io/component'] === 'server',
    );
    const missing = integrationProblem(
      this.#d.integrations,
      desired.scaledObject !== undefined,
      config.nodePools.provider === 'karpenter',
    );
    // A Deployment written just now is newer than the cache: its generation says a rollout is due.
    const deployment =
      (written.get(`Deployment/${deploymentName}`) as V1Deployment | undefined) ??
      caches.deployments.get(key.namespace, deploymentName);
    const status = computeStatus(
      cr,
      {
        weights: plan.state,
        weightsIdentity: { revision: model.weights.revision, digest: weightsDigest(model) },
        weightsAttempts: { attempts: plan.attempts, lastFailureTime: plan.lastFailureTime },
        deployment,
        pods: serving,
        endpoints: desired.endpoints,
        configError: desired.problems[0] ?? applyProblem ?? missing,
        weightsSource: this.#d.weightsSource,
        weightsStall,
        servingStall: podsProblem(serving) ?? deploymentProblem(deployment),
      },
      this.#d.now(),
    );
    await this.#writeStatus(cr, status, signal);
    return plan.requeueAfterMs !== undefined || status.phase !== 'Ready'
      ? { kind: 'requeueAfter', ms: plan.requeueAfterMs ?? 60_000 }
      : { kind: 'done' };
  }

  /**
   * The shared weights cache as it is: the weights-cache controller (weights-cache.ts) makes and
   * fills it, this deployment only reads its PVC and Job to report on them. `pods` are the
   * namespace's managed pods.
   */
  #observeWeights(
    cr: PixtralDeployment,
    model: CatalogModel,
    pods: V1Pod[],
  ): { plan: WeightsPlan; weightsStall: Stall | undefined } {
    const { caches, config } = this.#d;
    const namespace = cr.metadata.namespace!;
    const pvcName = weightsPvcName(model);
    const pvc = caches.pvcs.get(namespace, pvcName);
    // A cache that does not exist yet (or is going away) is asked for: in-process, no write.
    if (!pvc || pvc.metadata?.deletionTimestamp) this.#d.wantWeightsCache?.({ namespace, name: pvcName });
    const jobName = desiredWeightsCache({ cr, config }, pvc).job?.metadata?.name;
    const job = jobName ? caches.jobs.get(namespace, jobName) : undefined;
    const jobPods = job ? pods.filter((p) => p.metadata?.labels?.['job-name'] === jobName) : [];
    const retryBaseMs = config.weights.retryBaseSeconds * 1000;
    const notes = notesOf(pvc);
    const plan = planWeights(job, jobPods, notes, this.#d.now(), retryBaseMs);
    // Why the cache is stuck is worked out once per cache, by the weights-cache controller, and
    // noted on the PVC: a change there wakes every user once, and no user reads Events itself.
    const provisioning = plan.state.state === 'provisioning' || plan.state.state === 'absent';
    const refusal = this.#d.weightsCacheRefusal?.({ namespace, name: pvcName });
    return { plan, weightsStall: provisioning ? (notes.stall ?? refusal) : undefined };
  }

  /**
   * Applies everything else the CR owns and deletes what it no longer asks for. The Deployment is
   * created only once the weights are verified (vLLM must never start on missing files), and kept
   * afterwards (a re-provisioning does not take a serving deployment down).
   *
   * Returns what the user must act on: an object with a child's name that this CR does not control
   * (left untouched: never adopted, never overwritten), or a write the API server refused for
   * good (403, quota, an admission webhook's denial), and the objects it wrote as the server
   * returned them, by `Kind/name`. Retryable failures throw and back off.
   */
  async #applyChildren(
    cr: PixtralDeployment,
    desired: DesiredChildren,
    weightsReady: boolean,
    signal: AbortSignal,
  ): Promise<{ problem: Stall | undefined; written: Map<string, KubernetesObject> }> {
    const { caches, config } = this.#d;
    const namespace = cr.metadata.namespace!;
    const written = new Map<string, KubernetesObject>();
    const deployment = caches.deployments.get(namespace, desired.deployment.metadata!.name!);
    if (deployment && controllerRef(deployment)?.uid !== uidOf(cr)) {
      return { problem: notOwned(cr, deployment, 'Deployment'), written };
    }
    const apply: { kind: KindRef; object: KubernetesObject }[] = [
      { kind: Kinds.Secret, object: desired.apiKeyHashesSecret },
      { kind: Kinds.Service, object: desired.service },
      { kind: Kinds.PodDisruptionBudget, object: desired.podDisruptionBudget },
    ];
    if (desired.ingress) apply.push({ kind: Kinds.Ingress, object: desired.ingress });
    if (weightsReady || deployment) {
      if (
        deployment &&
        desired.deployment.spec?.replicas === undefined &&
        ownsReplicas(deployment, config.fieldManager)
      ) {
        // Autoscaling just turned on: keep the live replica count co-owned until KEDA's HPA writes it.
        const handoff = replicasHandoff({ cr, config }, deployment.spec?.replicas ?? 1);
        await this.#d.writerFor(REPLICAS_HANDOFF_MANAGER).apply(Kinds.Deployment, handoff, undefined, signal);
      }
      apply.push({ kind: Kinds.Deployment, object: desired.deployment });
    }
    // Without KEDA the ScaledObject is not applied; status reports it (integrationProblem).
    if (desired.scaledObject && this.#d.integrations.keda.available) {
      apply.push({ kind: Kinds.ScaledObject, object: desired.scaledObject as KubernetesObject });
    }
    let problem: Stall | undefined;
    for (const { kind, object } of apply) {
      const name = object.metadata?.name ?? '';
      // A cache miss is read back once: a label-selected cache (Secrets) does not hold objects
      // someone else made under the same name, and those must not be overwritten either.
      const current =
        caches.owned.get(kind.kind)?.get(namespace, name) ??
        (await this.#d.client.get(kind, { namespace, name }, signal));
      if (current && controllerRef(current)?.uid !== uidOf(cr)) {
        problem ??= notOwned(cr, current, kind.kind);
        continue;
      }
      try {
        const result = await this.#d.writer.apply(kind, object, current, signal);
        if (result.written && result.object) written.set(`${kind.kind}/${name}`, result.object);
      } catch (err) {
        const error = wrap(err, cr, `Applying ${kind.kind} ${namespace}/${name} failed`);
        if (error.retry === 'transient') throw error;
        problem ??= {
          reason: Reason.ApplyFailed,
          message: `The API server refused ${kind.kind} ${namespace}/${name}: ${apiMessage(err)}`,
        };
      }
    }
    const wanted = new Set(apply.map((a) => `${a.kind.kind}/${a.object.metadata?.name}`));
    await this.#deleteUnwanted(cr, wanted, deployment !== undefined || weightsReady, signal);
    if (config.nodePools.provider === 'karpenter' && this.#d.integrations.karpenter.available) {
      await syncNodePools(this.#d, desired.nodePool as KubernetesObject | undefined, signal);
    }
    return { problem, written };
  }

  /** Deletes children this CR controls that the spec no longer asks for (a public endpoint removed, autoscaling off). */
  async #deleteUnwanted(
    cr: PixtralDeployment,
    wanted: Set<string>,
    keepDeployment: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const kinds: KindRef[] = [Kinds.Deployment, Kinds.Service, Kinds.Ingress, Kinds.PodDisruptionBudget];
    if (this.#d.integrations.keda.available) kinds.push(Kinds.ScaledObject);
    for (const kind of kinds) {
      for (const child of this.#d.caches.owned.get(kind.kind)?.byOwner(uidOf(cr)) ?? []) {
        const id = `${kind.kind}/${child.metadata?.name}`;
        if (wanted.has(id) || (kind === Kinds.Deployment && keepDeployment)) continue;
        await this.#d.client.delete(
          kind,
          { namespace: cr.metadata.namespace!, name: child.metadata!.name! },
          { signal },
        );
      }
    }
  }

  async #writeStatus(
    cr: PixtralDeployment,
    status: PixtralDeploymentStatus,
    signal: AbortSignal,
  ): Promise<void> {
    const before = cr.status?.phase;
    const degradedBefore = cr.status?.conditions?.find((c) => c.type === ConditionType.Degraded);
    const { written } = await this.#d.writer.applyStatus(
      Kinds.PixtralDeployment,
      cr,
      status as Record<string, unknown>,
      signal,
    );
    const degraded = status.conditions?.find((c) => c.type === ConditionType.Degraded);
    if (written && before !== status.phase) {
      const warning = status.phase === 'Error' || degraded?.status === 'True';
      await this.#d.events.record(
        cr,
        warning ? 'Warning' : 'Normal',
        `Phase${status.phase}`,
        'Reconcile',
        phaseNote(status, degraded?.message),
      );
    }
    // Each new reason something needs attention is an Event too (kubectl describe, event exporters).
    if (
      written &&
      degraded?.status === 'True' &&
      (degradedBefore?.status !== 'True' || degradedBefore.reason !== degraded.reason)
    ) {
      await this.#d.events.record(cr, 'Warning', degraded.reason, 'Reconcile', degraded.message);
    }
  }
}

function phaseNote(status: PixtralDeploymentStatus, degraded: string | undefined): string {
  switch (status.phase) {
    case 'Ready':
      return `Ready: ${status.readyReplicas} replica(s) serving${status.endpoints?.public ? ` at ${status.endpoints.public}` : ''}`;
    case 'Error':
      return `Error: ${degraded ?? 'see status.conditions'}`;
    default:
      return `Phase is now ${status.phase}`;
  }
}

/** The AlreadyOwned problem for `existing`, which has a child's name but another (or no) controller. */
function notOwned(cr: PixtralDeployment, existing: KubernetesObject, kind: string): Stall {
  const ref = controllerRef(existing);
  const what = `${kind} ${existing.metadata?.namespace}/${existing.metadata?.name}`;
  const by = ref ? `is controlled by ${ref.kind} ${ref.name}` : 'exists and has no controller';
  return {
    reason: Reason.AlreadyOwned,
    message: `${what} ${by}, so PixtralDeployment ${cr.metadata.name} leaves it untouched; delete or rename it and the operator creates its own`,
  };
}

/** Whether `manager`'s applies own the Deployment's spec.replicas. */
function ownsReplicas(deployment: V1Deployment, manager: string): boolean {
  return appliedBy(deployment, manager)?.paths.includes('spec.replicas') === true;
}
