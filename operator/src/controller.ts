/**
 * Wires the PixtralDeployment controller into a runtime Manager: which kinds are cached, which
 * events enqueue which PixtralDeployment, and the reconciler's dependencies. Optional APIs (KEDA,
 * Karpenter) are discovered first: caching a kind the server does not serve would never sync.
 */
import type {
  KubernetesObject,
  V1Deployment,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
} from '@kubernetes/client-node';
import type { PixtralDeployment } from './api/pixtral-deployment.ts';
import { instanceLabel } from './builders/labels.ts';
import { apiKeysSecretName } from './builders/names.ts';
import type { OperatorConfig } from './config.ts';
import { registerDeploymentMetrics } from './deployment-metrics.ts';
import { Kinds } from './kinds.ts';
import { PixtralDeploymentReconciler } from './reconcile/pixtral-deployment.ts';
import {
  Controller,
  type Informer,
  type KindRef,
  type KubeClient,
  keyString,
  type Manager,
  Writer,
} from './runtime/index.ts';

const MANAGED = 'app.kubernetes.io/managed-by=pixtral-operator';

/**
 * Whether the API server serves `kind` (a CRD may not be installed). Lists inside `namespace`
 * when the operator watches one, so it needs no cluster-wide rights there.
 */
export async function served(client: KubeClient, kind: KindRef, namespace?: string): Promise<boolean> {
  try {
    await client.list(kind, { limit: 1, ...(namespace && kind.namespaced ? { namespace } : {}) });
    return true;
  } catch (err) {
    // 404: the CRD is not installed. 403: installed, but this operator may not use it (the chart's
    // rbac.keda off); either way the feature is unavailable, and deployments that need it say so.
    const code = (err as { code?: number }).code;
    if (code === 404 || code === 403) return false;
    throw err;
  }
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
  const kedaInstalled = await served(manager.client, Kinds.ScaledObject, manager.config.namespace);
  const karpenter = config.nodePools.provider === 'karpenter';
  if (karpenter && !(await served(manager.client, Kinds.NodePool))) {
    throw new Error(
      'nodePools.provider is karpenter, but the API server does not serve karpenter.sh/v1 NodePool: install Karpenter or set nodePools.provider to none',
    );
  }
  const ownedKinds: KindRef[] = [
    Kinds.Deployment,
    Kinds.Service,
    Kinds.Ingress,
    Kinds.PodDisruptionBudget,
    Kinds.Secret,
  ];
  if (kedaInstalled) ownedKinds.push(Kinds.ScaledObject);

  const roots = manager.cache<PixtralDeployment>(Kinds.PixtralDeployment);
  const owned = new Map<string, Informer>(ownedKinds.map((k) => [k.kind, manager.cache(k)]));
  const caches = {
    pixtralDeployments: roots,
    deployments: manager.cache<V1Deployment>(Kinds.Deployment),
    // All Secrets: a user's API key Secret carries none of our labels.
    secrets: manager.cache<V1Secret>(Kinds.Secret),
    pvcs: manager.cache<V1PersistentVolumeClaim>({ ...Kinds.PersistentVolumeClaim, labelSelector: MANAGED }),
    jobs: manager.cache<V1Job>({ ...Kinds.Job, labelSelector: MANAGED }),
    pods: manager.cache<V1Pod>({ ...Kinds.Pod, labelSelector: MANAGED }),
    owned,
    nodePools: karpenter ? manager.cache({ ...Kinds.NodePool, labelSelector: MANAGED }) : undefined,
  };
  const reconciler = new PixtralDeploymentReconciler({
    caches,
    client: manager.client,
    writer: manager.writer,
    // A Writer is a field manager name over the shared client: cheap to make, nothing to cache.
    writerFor: (fieldManager) => new Writer({ client: manager.client, fieldManager }),
    events: manager.events,
    config,
    now: options.now ?? (() => new Date()),
    kedaInstalled,
    weightsSource: options.weightsSource,
  });
  const controller = new Controller({
    name: 'pixtraldeployment',
    forKind: Kinds.PixtralDeployment,
    owns: ownedKinds,
    reconciler,
    workers: options.workers ?? manager.config.workers,
  });
  manager.add(controller);
  registerDeploymentMetrics(manager.metrics.registry, caches);

  // Objects that are not controlled by a PixtralDeployment but change what it should do.
  const enqueue = (crs: PixtralDeployment[]) => {
    for (const cr of crs)
      controller.queue?.add(
        keyString({ namespace: cr.metadata.namespace ?? '', name: cr.metadata.name ?? '' }),
      );
  };
  const inNamespace = (obj: KubernetesObject) => roots.list(obj.metadata?.namespace ?? '');
  const watch = (cache: Informer, map: (obj: KubernetesObject) => PixtralDeployment[]) =>
    cache.subscribe((event) => {
      if (event.type === 'sync') return;
      enqueue(map(event.object));
      if (event.type === 'update') enqueue(map(event.old));
    });
  // A user's API key Secret: the CRs that name it.
  watch(caches.secrets, (secret) =>
    inNamespace(secret).filter((cr) => apiKeysSecretName(cr) === secret.metadata?.name),
  );
  // Serving pods (owned by ReplicaSets): the CR of their instance label, for InsufficientGPU and readiness.
  watch(caches.pods, (pod) =>
    inNamespace(pod).filter(
      (cr) =>
        instanceLabel(cr) === pod.metadata?.labels?.['app.kubernetes.io/instance'] ||
        pod.metadata?.labels?.['app.kubernetes.io/component'] === 'weights-provisioner',
    ),
  );
  // The shared weights cache and its Job: every CR of the namespace may use them.
  watch(caches.pvcs, inNamespace);
  watch(caches.jobs, inNamespace);
  if (caches.nodePools) watch(caches.nodePools, () => roots.list());
  return controller;
}
