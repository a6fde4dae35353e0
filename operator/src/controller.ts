/**
 * Wires the PixtralDeployment controller into a runtime Manager: which kinds are cached, which
 * events enqueue which PixtralDeployment, and the reconciler's dependencies. Optional APIs (KEDA,
 * Karpenter) are probed at start and then followed through a watch on their CRDs: a kind is cached
 * only once the server serves it (a cache of a kind that is not served would never sync), and
 * installing or removing KEDA or Karpenter is picked up without a restart.
 */

import type {
  KubernetesObject,
  V1Deployment,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
} from '@kubernetes/client-node';
import { Backoff } from '../../common/backoff.ts';
import type { PixtralDeployment } from './api/pixtral-deployment.ts';
import { claimOf } from './builders/index.ts';
import { instanceLabel } from './builders/labels.ts';
import { apiKeysSecretName } from './builders/names.ts';
import type { OperatorConfig } from './config.ts';
import { registerDeploymentMetrics } from './deployment-metrics.ts';
import { Kinds, managed } from './kinds.ts';
import type { Integration, Integrations } from './reconcile/integrations.ts';
import { PixtralDeploymentReconciler } from './reconcile/pixtral-deployment.ts';
import { cacheUsers } from './reconcile/weights-cache.ts';
import type { WatchedKind } from './runtime/controller.ts';
import { ownerKey } from './runtime/controller.ts';
import {
  Channel,
  Controller,
  type Informer,
  type KindRef,
  type KubeClient,
  type Manager,
  type MappedWatch,
  type ObjectKey,
  parseKey,
  Writer,
  watchedNamespaces,
} from './runtime/index.ts';
import { addWeightsCacheController } from './weights-cache-controller.ts';

const CustomResourceDefinition: KindRef = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  namespaced: false,
};

/**
 * Whether the API server serves `kind` (a CRD may not be installed). Lists inside `namespace`
 * when the operator watches one, so it needs no cluster-wide rights there.
 */
export async function served(client: KubeClient, kind: KindRef, namespace?: string): Promise<Integration> {
  try {
    await client.list(kind, { limit: 1, ...(namespace && kind.namespaced ? { namespace } : {}) });
    return { available: true };
  } catch (err) {
    // 404: the CRD is not installed. 403: installed, but this operator may not use it (the chart's
    // rbac.keda off); either way the feature is unavailable, and deployments that need it say so.
    const code = (err as { code?: number }).code;
    if (code === 404) return { available: false, why: 'not-installed' };
    if (code === 403) return { available: false, why: 'forbidden' };
    throw err;
  }
}

/**
 * `served` for a CRD that turned Established: the API server serves the new resource only once
 * its handlers are installed, which on a busy server lags behind the condition (seconds, at times
 * more), so a 404 is asked again, backing off to 5 s, for as long as the CRD stays established.
 */
async function servedOnceEstablished(
  client: KubeClient,
  kind: KindRef,
  namespace: string | undefined,
  stillEstablished: () => boolean,
): Promise<Integration> {
  let result: Integration = { available: false, why: 'not-installed' };
  // From 250 ms, doubling, held at 5 s, for as long as the CRD stays established.
  const backoff = new Backoff({ durationMs: 250, factor: 2, capMs: 5000 });
  for (let delay = backoff.next(); delay !== undefined && stillEstablished(); delay = backoff.next()) {
    result = await served(client, kind, namespace).catch(() => result);
    if (result.available || result.why === 'forbidden') return result;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return result;
}

/** The CRD of each optional API, by its name. */
const OPTIONAL_CRDS = {
  keda: { crd: `${Kinds.ScaledObject.plural}.keda.sh`, kind: Kinds.ScaledObject },
  karpenter: { crd: `${Kinds.NodePool.plural}.karpenter.sh`, kind: Kinds.NodePool },
} as const;

/** Whether a CRD is established and serves `version`. */
function established(crd: KubernetesObject | undefined, version: string): boolean {
  const c = crd as
    | {
        spec?: { versions?: { name: string; served?: boolean }[] };
        status?: { conditions?: { type: string; status: string }[] };
      }
    | undefined;
  return (
    c?.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') === true &&
    c.spec?.versions?.some((v) => v.name === version && v.served) === true
  );
}

/** The key of `obj`'s controller owner of `kind`, as a list for a watch's map. */
function ownedBy(obj: KubernetesObject, kind: KindRef): ObjectKey[] {
  const owner = ownerKey(obj, kind);
  return owner ? [parseKey(owner)] : [];
}

/** Registers the PixtralDeployment controller on `manager`. Call before `manager.start`. */
export async function addPixtralController(
  manager: Manager,
  config: OperatorConfig,
  options: {
    workers?: number;
    now?: () => Date;
    /** WeightsReady's reason and message when no verified download happens (local mode). */
    weightsSource?: { reason: string; message: string };
  } = {},
): Promise<Controller> {
  const karpenter = config.nodePools.provider === 'karpenter';
  const integrations: Integrations = {
    keda: await served(manager.client, Kinds.ScaledObject, watchedNamespaces(manager.config)[0]),
    karpenter: karpenter ? await served(manager.client, Kinds.NodePool) : { available: false },
  };
  const kedaInstalled = integrations.keda.available;
  // Secrets only with our label: a cluster's other Secrets (Helm releases, certificates) are
  // never listed, watched or cached. A user-named key Secret is watched by its name (below).
  const ownedSecrets = managed(Kinds.Secret);
  const ownedKinds: WatchedKind[] = [
    Kinds.Deployment,
    Kinds.Service,
    Kinds.Ingress,
    Kinds.PodDisruptionBudget,
    ownedSecrets,
  ];
  if (kedaInstalled) ownedKinds.push(Kinds.ScaledObject);

  const pvcKind = managed(Kinds.PersistentVolumeClaim);
  const jobKind = managed(Kinds.Job);
  const podKind = managed(Kinds.Pod);
  const nodePoolKind = managed(Kinds.NodePool);
  const roots = manager.cache<PixtralDeployment>(Kinds.PixtralDeployment);
  const owned = new Map<string, Informer>(ownedKinds.map((k) => [k.kind, manager.cache(k)]));
  const caches = {
    pixtralDeployments: roots,
    deployments: manager.cache<V1Deployment>(Kinds.Deployment),
    secrets: manager.cache<V1Secret>(ownedSecrets),
    namedSecret: (namespace: string, name: string) => namedSecret(namespace, name),
    pvcs: manager.cache<V1PersistentVolumeClaim>(pvcKind),
    jobs: manager.cache<V1Job>(jobKind),
    pods: manager.cache<V1Pod>(podKind),
    owned,
    nodePools: karpenter && integrations.karpenter.available ? manager.cache(nodePoolKind) : undefined,
  };
  // The shared weights caches: their own controller, one key per PVC (reconcile/weights-cache.ts).
  const weightsCaches = addWeightsCacheController(manager, config, { now: options.now });
  const reconciler = new PixtralDeploymentReconciler({
    caches,
    client: manager.client,
    writer: manager.writer,
    // A Writer is a field manager name over the shared client: cheap to make, nothing to cache.
    writerFor: (fieldManager) => new Writer({ client: manager.client, fieldManager }),
    events: manager.events,
    config,
    now: options.now ?? (() => new Date()),
    integrations,
    wantWeightsCache: weightsCaches.want,
    weightsCacheRefusal: (key) => weightsCaches.refusals.get(key),
    weightsSource: options.weightsSource,
  });

  // Objects that are not controlled by a PixtralDeployment but change what it should do.
  const keysOf = (crs: PixtralDeployment[]): ObjectKey[] =>
    crs.map((cr) => ({ namespace: cr.metadata.namespace ?? '', name: cr.metadata.name ?? '' }));
  const everyRoot = () => keysOf(roots.list());
  // A user's API key Secret: the CRs that name it.
  const namingIt = (secret: KubernetesObject) =>
    keysOf(
      roots
        .list(secret.metadata?.namespace ?? '')
        .filter((cr) => apiKeysSecretName(cr) === secret.metadata?.name),
    );
  // A weights cache's PVC, Job or provisioner pod: the deployments that use that cache (and no
  // other deployment of the namespace), each once however many objects changed.
  const usersOfCache = (namespace: string, cache: string | undefined) =>
    cache ? keysOf(cacheUsers(roots.list(namespace), config, cache)) : [];
  const usingPvc = (pvc: KubernetesObject) => usersOfCache(pvc.metadata?.namespace ?? '', pvc.metadata?.name);
  const usingJobsCache = (job: KubernetesObject) =>
    usersOfCache(job.metadata?.namespace ?? '', claimOf(job as V1Job));
  // Serving pods (owned by ReplicaSets): the CR of their instance label, for InsufficientGPU and
  // readiness. A weights Job's pods concern the weights-cache controller, which notes on the PVC
  // what the users need to know (its event wakes them).
  const podOwners = (pod: KubernetesObject) => {
    const instance = pod.metadata?.labels?.['app.kubernetes.io/instance'];
    if (instance === undefined) return [];
    return keysOf(roots.list(pod.metadata?.namespace ?? '').filter((cr) => instanceLabel(cr) === instance));
  };
  // Installing or removing KEDA or Karpenter changes what every deployment may do.
  const integrationChanged = new Channel();
  const watches: MappedWatch[] = [
    { kind: ownedSecrets, map: namingIt },
    { kind: pvcKind, map: usingPvc },
    { kind: jobKind, map: usingJobsCache },
    { source: weightsCaches.refusals.changed, map: usingPvc },
    { kind: podKind, map: podOwners },
    { source: integrationChanged, map: everyRoot },
  ];
  if (caches.nodePools) watches.push({ kind: nodePoolKind, map: everyRoot });
  const controller = new Controller({
    name: 'pixtraldeployment',
    forKind: Kinds.PixtralDeployment,
    owns: ownedKinds,
    watches,
    reconciler,
    workers: options.workers ?? manager.config.workers,
  });
  manager.add(controller);
  registerDeploymentMetrics(manager.metrics, caches);

  // One cache per user-named key Secret, by namespace and name: the operator reads no other
  // Secret of the user's. Kept for the process's life (a handful of names, each one object).
  const named = new Map<string, Informer<V1Secret>>();
  function namedSecret(namespace: string, name: string): Informer<V1Secret> {
    const id = `${namespace}/${name}`;
    let cache = named.get(id);
    if (!cache) {
      const kind = {
        ...Kinds.Secret,
        fieldSelector: `metadata.namespace=${namespace},metadata.name=${name}`,
      };
      cache = manager.cache<V1Secret>(kind);
      named.set(id, cache);
      controller.watch({ kind, map: namingIt });
    }
    return cache;
  }

  // Optional APIs that come or go while running. Each CRD is watched by name (RBAC can grant
  // exactly those two names). When one becomes usable its kind gets a cache, wired like the others;
  // either way every deployment is looked at again, so a status that named it missing is updated.
  const follow = async (name: keyof typeof OPTIONAL_CRDS, onAvailable: () => void) => {
    const { crd, kind } = OPTIONAL_CRDS[name];
    if (name === 'karpenter' && !karpenter) return;
    try {
      await manager.client.get(CustomResourceDefinition, { namespace: '', name: crd });
    } catch (err) {
      // RBAC older than this operator: a cache that may not list would never sync and keep the
      // operator unready, so the optional API stays as probed at start.
      if ((err as { code?: number }).code !== 403) throw err;
      manager.log.warn({ crd }, 'May not read the CRD; changes to it need an operator restart');
      return;
    }
    const cache = manager.cache({ ...CustomResourceDefinition, fieldSelector: `metadata.name=${crd}` });
    let checking = Promise.resolve();
    cache.subscribe(() => {
      checking = checking.then(async () => {
        const isEstablished = () => established(cache.get('', crd), kind.apiVersion.split('/')[1]!);
        const nowEstablished = isEstablished();
        const before = integrations[name];
        if (nowEstablished === before.available && before.why !== 'forbidden') return;
        const next: Integration = nowEstablished
          ? await servedOnceEstablished(
              manager.client,
              kind,
              kind.namespaced ? watchedNamespaces(manager.config)[0] : undefined,
              isEstablished,
            )
          : { available: false, why: 'not-installed' };
        const changed = next.available !== before.available || next.why !== before.why;
        integrations[name] = next;
        if (!changed) return;
        manager.log.info({ integration: name, ...next }, 'Optional API changed');
        if (next.available) onAvailable();
        integrationChanged.send();
      });
    });
  };
  await follow('keda', () => {
    if (owned.has(Kinds.ScaledObject.kind)) return;
    owned.set(Kinds.ScaledObject.kind, manager.cache(Kinds.ScaledObject));
    controller.watch({ kind: Kinds.ScaledObject, map: (obj) => ownedBy(obj, Kinds.PixtralDeployment) });
  });
  await follow('karpenter', () => {
    if (caches.nodePools) return;
    caches.nodePools = manager.cache(nodePoolKind);
    controller.watch({ kind: nodePoolKind, map: everyRoot });
  });
  return controller;
}
