/**
 * A controller: one root kind, the kinds it owns, a reconciler and N workers over a work queue
 * (docs/conventions.md#key-not-event: reconcile takes a key, never an event).
 */
import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { controllerRef } from './apply.ts';
import type { Clock } from './clock.ts';
import { isRetryable } from './errors.ts';
import type { Informer, InformerEvent } from './informer.ts';
import { type KindRef, keyString, type ObjectKey, objectKey, parseKey } from './kinds.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { WorkQueue } from './workqueue.ts';

/** What a reconcile asks for next. Errors are thrown, never returned (docs/conventions.md#requeue-and-backoff). */
export type Outcome = { kind: 'done' } | { kind: 'requeueAfter'; ms: number };

/** Per-reconcile context: aborts when leadership is lost or shutdown times out. */
export interface ReconcileContext {
  signal: AbortSignal;
  /** A child logger carrying `controller`, `reconcileID` and the resource (`<kind>: ns/name`). */
  log: Logger;
  reconcileID: string;
}

/** Level-triggered, idempotent reconcile of one root object by key. */
export interface Reconciler {
  reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Outcome>;
}

/** A kind to cache, optionally narrowed by a label or field selector. */
export type WatchedKind = KindRef & { labelSelector?: string; fieldSelector?: string };

/** Anything whose events a controller can follow: an informer, or a `Channel` of external triggers. */
export interface EventSource<T extends KubernetesObject = KubernetesObject> {
  subscribe(handler: (event: InformerEvent<T>) => void): () => void;
}

/**
 * A secondary watch (controller-runtime's `Watches` with a map function): events on objects the
 * root kind does not control become the keys of the roots they concern. `kind` is resolved to the
 * manager's shared cache when the controller runs; `source` is followed as given.
 */
export type MappedWatch = ({ kind: WatchedKind } | { source: EventSource }) & {
  /** The roots an object concerns. For an update, both the old and the new object are mapped. */
  map: (obj: KubernetesObject) => ObjectKey[];
};

/**
 * An event source fed by hand (controller-runtime's `source.Channel`): for triggers that are not
 * a Kubernetes watch, e.g. an optional API turning available. `send` with any object; the watch's
 * map decides which roots it concerns.
 */
export class Channel implements EventSource {
  readonly #handlers = new Set<(event: InformerEvent<KubernetesObject>) => void>();

  subscribe(handler: (event: InformerEvent<KubernetesObject>) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  send(object: KubernetesObject = {}): void {
    for (const handler of this.#handlers) handler({ type: 'add', object });
  }
}

/** Options of `Controller`. */
export interface ControllerOptions {
  /** Names the controller in metrics and logs. */
  name: string;
  /** The root kind; its keys are what the reconciler receives. */
  forKind: WatchedKind;
  /** Child kinds: their events enqueue the key of their controller owner of `forKind`. */
  owns?: WatchedKind[];
  /** Objects that are not children but change what a root should do, mapped to root keys. */
  watches?: MappedWatch[];
  reconciler: Reconciler;
  /** Concurrent reconciles (never two on one key). Default 1. */
  workers?: number;
  /** First retry delay after a failure, ms. Default 50. */
  baseDelayMs?: number;
  /** Retry delay cap, ms. Default 300000. */
  maxDelayMs?: number;
}

/** Pieces a manager hands a controller when it starts. */
export interface ControllerRuntime {
  cache(kind: WatchedKind): Informer;
  log: Logger;
  metrics: RuntimeMetrics;
  clock?: Clock;
}

/** Runs one reconciler over a work queue fed by informers. */
export class Controller {
  readonly name: string;
  readonly forKind: WatchedKind;
  readonly owns: WatchedKind[];
  readonly #o: ControllerOptions;
  readonly #watches: MappedWatch[];
  /** While running: the queue and the runtime, so watches added meanwhile are followed at once. */
  #running: { queue: WorkQueue; rt: ControllerRuntime; unsubscribe: Array<() => void> } | undefined;

  constructor(options: ControllerOptions) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(options.name))
      throw new Error(
        `Controller name ${JSON.stringify(options.name)} must be lowercase letters, digits and dashes`,
      );
    if (options.workers !== undefined && (!Number.isInteger(options.workers) || options.workers < 1)) {
      throw new Error(
        `Controller ${options.name}: workers must be a whole number >= 1, got ${options.workers}`,
      );
    }
    this.name = options.name;
    this.forKind = options.forKind;
    this.owns = options.owns ?? [];
    this.#o = options;
    this.#watches = [...(options.watches ?? [])];
  }

  /** True while the workers run (i.e. while this process leads). */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Keys waiting or being reconciled (0 while not running): for benchmarks and diagnostics. */
  get backlog(): number {
    const queue = this.#running?.queue;
    return queue ? queue.length + queue.inFlight : 0;
  }

  /** The kinds of the mapped watches, for the manager to cache. */
  get watchedKinds(): WatchedKind[] {
    return this.#watches.flatMap((w) => ('kind' in w ? [w.kind] : []));
  }

  /**
   * Adds a mapped watch, also while running (controller-runtime's `Controller.Watch`): for a kind
   * that becomes served, or a cache made on first use. Kept for later runs too.
   */
  watch(watch: MappedWatch): void {
    this.#watches.push(watch);
    const running = this.#running;
    if (running) running.unsubscribe.push(this.#follow(watch, running.queue, running.rt));
  }

  /**
   * Subscribes to the caches, enqueues every cached root, and runs the workers until `signal`
   * aborts. Then stops taking keys and waits for in-flight reconciles (their own `abort` signal
   * aborts them early, e.g. when leadership is lost).
   */
  async run(rt: ControllerRuntime, signal: AbortSignal, abort: AbortSignal): Promise<void> {
    const queue = new WorkQueue({
      name: this.name,
      clock: rt.clock,
      metrics: rt.metrics,
      baseDelayMs: this.#o.baseDelayMs,
      maxDelayMs: this.#o.maxDelayMs,
    });
    const roots = rt.cache(this.forKind);
    const unsubscribe = [
      roots.subscribe((event) => this.#onRoot(queue, roots, event)),
      ...this.owns.map((kind) => this.#followOwned(rt.cache(kind), queue)),
      ...this.#watches.map((watch) => this.#follow(watch, queue, rt)),
    ];
    this.#running = { queue, rt, unsubscribe };
    // A fresh leader (or a restart) must look at every root: watches do not replay adds.
    for (const obj of roots.list()) queue.add(objectKeyString(obj));
    const onStop = () => queue.shutDown();
    signal.addEventListener('abort', onStop, { once: true });
    if (signal.aborted) queue.shutDown();
    const log = rt.log.child({ controller: this.name });
    log.info({ workers: this.#o.workers ?? 1 }, 'Started controller');
    const workers = Array.from({ length: this.#o.workers ?? 1 }, () => this.#work(queue, rt, log, abort));
    await Promise.all(workers);
    for (const off of unsubscribe) off();
    signal.removeEventListener('abort', onStop);
    this.#running = undefined;
    log.info('Stopped controller');
  }

  #onRoot(queue: WorkQueue, roots: Informer, event: InformerEvent<KubernetesObject>): void {
    if (event.type === 'sync') {
      for (const obj of roots.list()) queue.add(objectKeyString(obj));
    } else {
      queue.add(objectKeyString(event.object));
    }
  }

  #followOwned(cache: Informer, queue: WorkQueue): () => void {
    return followCache(cache, queue, (obj) => {
      const owner = ownerKey(obj, this.forKind);
      return owner ? [owner] : [];
    });
  }

  #follow(watch: MappedWatch, queue: WorkQueue, rt: ControllerRuntime): () => void {
    const map = (obj: KubernetesObject) => watch.map(obj).map(keyString);
    return 'kind' in watch
      ? followCache(rt.cache(watch.kind), queue, map)
      : subscribeMapped(watch.source, queue, map);
  }

  async #work(queue: WorkQueue, rt: ControllerRuntime, log: Logger, abort: AbortSignal): Promise<void> {
    const resourceField = this.forKind.kind.charAt(0).toLowerCase() + this.forKind.kind.slice(1);
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const reconcileID = randomUUID();
      const rlog = log.child({ reconcileID, [resourceField]: key });
      const stopTimer = rt.metrics.reconcileTime.startTimer({ controller: this.name });
      rt.metrics.activeWorkers.inc({ controller: this.name });
      try {
        const outcome = await this.#o.reconciler.reconcile(parseKey(key), {
          signal: abort,
          log: rlog,
          reconcileID,
        });
        queue.forget(key);
        if (outcome.kind === 'requeueAfter') {
          queue.addAfter(key, outcome.ms);
          rt.metrics.reconcileTotal.inc({ controller: this.name, result: 'requeue_after' });
        } else {
          rt.metrics.reconcileTotal.inc({ controller: this.name, result: 'success' });
        }
      } catch (err) {
        rt.metrics.reconcileErrors.inc({ controller: this.name });
        if (abort.aborted) {
          rt.metrics.reconcileTotal.inc({ controller: this.name, result: 'error' });
        } else if (isRetryable(err)) {
          rt.metrics.reconcileTotal.inc({ controller: this.name, result: 'error' });
          rlog.warn({ err, retries: queue.numRequeues(key) }, 'Reconcile failed, retrying');
          queue.addRateLimited(key);
        } else {
          rt.metrics.reconcileTotal.inc({ controller: this.name, result: 'terminal' });
          rlog.error({ err }, 'Reconcile failed terminally, not retrying');
          queue.forget(key);
        }
      } finally {
        stopTimer();
        rt.metrics.activeWorkers.dec({ controller: this.name });
        queue.done(key);
      }
    }
  }
}

const objectKeyString = (obj: KubernetesObject): string => keyString(objectKey(obj));

/**
 * Follows a cache, and first counts what it already holds as added (as client-go's
 * `AddEventHandler` does): the cache listed before this controller subscribed, so an object
 * whose only event came before would otherwise never reach the root it concerns, e.g. a
 * PixtralDeployment created just before the weights-cache controller started, whose cache
 * (the root) does not exist yet.
 */
function followCache(
  cache: Informer,
  queue: WorkQueue,
  map: (obj: KubernetesObject) => string[],
): () => void {
  const unsubscribe = subscribeMapped(cache, queue, map);
  for (const obj of cache.list()) for (const key of map(obj)) queue.add(key);
  return unsubscribe;
}

/** Enqueues the keys `map` gives for each object an event carries: for an update, old and new. */
function subscribeMapped(
  source: EventSource,
  queue: WorkQueue,
  map: (obj: KubernetesObject) => string[],
): () => void {
  return source.subscribe((event) => {
    if (event.type === 'sync') return;
    const keys = new Set<string>();
    for (const obj of event.type === 'update' ? [event.old, event.object] : [event.object]) {
      for (const key of map(obj)) keys.add(key);
    }
    for (const key of keys) queue.add(key);
  });
}

/** The key of `obj`'s controller owner when that owner is of `kind` (same group, any version). */
export function ownerKey(obj: KubernetesObject, kind: KindRef): string | undefined {
  const group = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');
  const ref = controllerRef(obj);
  if (!ref || ref.kind !== kind.kind || group(ref.apiVersion) !== group(kind.apiVersion)) return undefined;
  return keyString({ namespace: kind.namespaced ? (obj.metadata?.namespace ?? '') : '', name: ref.name });
}
