/**
 * A toy controller driven by the runtime, for the integration tests and the benchmark:
 * every ConfigMap labelled `toy=true` owns a Secret `<name>-toy` holding its `value`. The
 * root carries a finalizer so deletion is observed even without a garbage collector (the
 * test control plane runs no kube-controller-manager).
 */
import type { KubernetesObject, V1ConfigMap, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import {
  assertAdoptable,
  BuiltinKinds,
  Controller,
  hasFinalizer,
  type Manager,
  type ObjectKey,
  type Outcome,
  type ReconcileContext,
  type Reconciler,
  type WatchedKind,
} from '../../operator/src/runtime/index.ts';

/** The root: ConfigMaps labelled toy=true. */
export const ToyRoot: WatchedKind = { ...BuiltinKinds.ConfigMap, labelSelector: 'toy=true' };
/** The child: Secrets we manage. */
export const ToyChild: WatchedKind = {
  ...BuiltinKinds.Secret,
  labelSelector: 'app.kubernetes.io/managed-by=pixtral-operator',
};
/** Released on deletion after the child is gone. */
export const TOY_FINALIZER = 'toy.pixtral.dev/cleanup';

/** The child's name for a root. */
export function toyChildName(root: string): string {
  return `${root}-toy`;
}

/** The desired child: pure function of the root. */
export function desiredToyChild(root: V1ConfigMap): V1Secret {
  const value = root.data?.value ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: toyChildName(root.metadata!.name!),
      namespace: root.metadata!.namespace!,
      labels: {
        'app.kubernetes.io/managed-by': 'pixtral-operator',
        'app.kubernetes.io/instance': root.metadata!.name!,
      },
      ownerReferences: [controllerReference(root)],
    },
    type: 'Opaque',
    data: { value: Buffer.from(value).toString('base64') },
  };
}

/** Reconciles one toy root from the caches. */
export class ToyReconciler implements Reconciler {
  readonly #mgr: Manager;

  constructor(mgr: Manager) {
    this.#mgr = mgr;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Outcome> {
    const { writer, client, events } = this.#mgr;
    const root = this.#mgr.cache<V1ConfigMap>(ToyRoot).get(key.namespace, key.name);
    if (!root) return { kind: 'done' };
    const childKey = { namespace: key.namespace, name: toyChildName(key.name) };
    if (root.metadata?.deletionTimestamp) {
      if (!hasFinalizer(root, TOY_FINALIZER)) return { kind: 'done' };
      if (await client.delete(BuiltinKinds.Secret, childKey, { signal: ctx.signal }))
        ctx.log.info('Deleted Secret');
      await writer.removeFinalizer(BuiltinKinds.ConfigMap, root, TOY_FINALIZER, ctx.signal);
      return { kind: 'done' };
    }
    const { object: owned } = await writer.ensureFinalizer(
      BuiltinKinds.ConfigMap,
      root,
      TOY_FINALIZER,
      ctx.signal,
    );
    const current = this.#mgr.cache<V1Secret>(ToyChild).get(childKey.namespace, childKey.name);
    assertAdoptable(current, root);
    const { written } = await writer.apply(
      BuiltinKinds.Secret,
      desiredToyChild(owned ?? root),
      current,
      ctx.signal,
    );
    if (written) {
      ctx.log.info({ name: childKey.name }, 'Applied Secret');
      await events.record(root, 'Normal', 'ChildApplied', 'Apply', `Applied Secret ${childKey.name}`);
    }
    return { kind: 'done' };
  }
}

/** Adds the toy controller to `mgr`. */
export function addToyController(mgr: Manager, workers = 4): Controller {
  const controller = new Controller({
    name: 'toy',
    forKind: ToyRoot,
    owns: [ToyChild],
    reconciler: new ToyReconciler(mgr),
    workers,
  });
  mgr.add(controller);
  return controller;
}

/** A controller ownerReference to `owner` (the runtime leaves these to each controller's builders). */
export function controllerReference(owner: KubernetesObject): V1OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? '',
    kind: owner.kind ?? '',
    name: owner.metadata?.name ?? '',
    uid: owner.metadata?.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}
