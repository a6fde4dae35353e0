/**
 * The manager composes the runtime: one shared cache per watched kind, the controllers, leader
 * election, the health server and graceful shutdown.
 *
 *   const mgr = new Manager({ config: loadRuntimeConfig() });
 *   mgr.add(new Controller({ name: 'pxd', forKind, owns: [...], reconciler, workers: 4 }));
 *   await mgr.start(signal);
 *
 * Caches run on every replica (a standby is warm); only the leader runs the controllers.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Writer } from './apply.ts';
import { KubeClient } from './client.ts';
import { type Clock, realClock } from './clock.ts';
import { type RuntimeConfig, watchedNamespaces } from './config.ts';
import type { Controller, WatchedKind } from './controller.ts';
import { EventRecorder } from './events.ts';
import { type HealthServer, startHealthServer } from './health.ts';
import { Informer, type InformerOptions } from './informer.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { LeaderElector } from './leader-election.ts';
import { createOperatorLogger } from './logger.ts';
import { RuntimeMetrics } from './metrics.ts';

/** Thrown by `Manager.start` when the lease could not be renewed: the process should exit. */
export class LeadershipLostError extends Error {
  override readonly name = 'LeadershipLostError';
}

/** Options of `Manager`. */
export interface ManagerOptions {
  config: RuntimeConfig;
  /** Default: from `config.kubeconfig`, the service account or KUBECONFIG (see `loadKubeConfig`). */
  kubeConfig?: KubeConfig;
  log?: Logger;
  metrics?: RuntimeMetrics;
  clock?: Clock;
  /** Extra informer tuning (backoff, watch timeout), mostly for tests. */
  informer?: Pick<InformerOptions, 'initialBackoffMs' | 'maxBackoffMs' | 'watchTimeoutSeconds' | 'pageSize'>;
  /** `reportingController` of Events. Default `pixtral.dev/operator`. */
  eventController?: string;
  /** Called once this instance holds the lease (or at start without leader election). */
  onStartedLeading?: () => void;
  /** Called right after the workers were aborted because the lease was lost. */
  onStoppedLeading?: () => void;
}

/** Runs caches, controllers, leader election and the health server of one operator process. */
export class Manager {
  readonly config: RuntimeConfig;
  readonly client: KubeClient;
  readonly writer: Writer;
  readonly events: EventRecorder;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  readonly #clock: Clock;
  readonly #informerOptions: ManagerOptions['informer'];
  readonly #hooks: Pick<ManagerOptions, 'onStartedLeading' | 'onStoppedLeading'>;
  readonly #caches = new Map<string, Informer>();
  readonly #controllers: Controller[] = [];
  readonly #cacheAbort = new AbortController();
  readonly #cacheRuns: Promise<void>[] = [];
  #started = false;
  #stopping = false;
  #health: HealthServer | undefined;

  constructor(options: ManagerOptions) {
    this.config = options.config;
    this.log = options.log ?? createOperatorLogger(options.config.logLevel);
    this.metrics = options.metrics ?? new RuntimeMetrics({ defaultMetrics: true });
    this.#clock = options.clock ?? realClock;
    this.#informerOptions = options.informer;
    this.#hooks = { onStartedLeading: options.onStartedLeading, onStoppedLeading: options.onStoppedLeading };
    const kubeConfig =
      options.kubeConfig ?? loadKubeConfig({ kubeconfigPath: options.config.kubeconfig || undefined });
    this.client = new KubeClient({
      kubeConfig,
      metrics: this.metrics,
      userAgent: `pixtral-operator/${options.config.identity}`,
    });
    this.writer = new Writer({ client: this.client, clock: this.#clock });
    this.events = new EventRecorder({
      client: this.client,
      controller: options.eventController ?? 'pixtral.dev/operator',
      instance: options.config.identity,
      clock: this.#clock,
      log: this.log,
    });
  }

  /** The shared cache of `kind` (same kind and selector → same cache); created on first use. */
  cache<T extends KubernetesObject = KubernetesObject>(kind: WatchedKind): Informer<T> {
    const id = `${kind.apiVersion}/${kind.kind}?${kind.labelSelector ?? ''}&${kind.fieldSelector ?? ''}`;
    let informer = this.#caches.get(id);
    if (!informer) {
      informer = new Informer({
        client: this.client,
        kind,
        labelSelector: kind.labelSelector,
        fieldSelector: kind.fieldSelector,
        ...(kind.namespaced ? { namespaces: watchedNamespaces(this.config) } : {}),
        clock: this.#clock,
        log: this.log,
        metrics: this.metrics,
        resyncMs: this.config.resyncMs,
        ...this.#informerOptions,
      });
      this.#caches.set(id, informer);
      if (this.#started) this.#cacheRuns.push(informer.run(this.#cacheAbort.signal));
    }
    return informer as unknown as Informer<T>;
  }

  /** Registers a controller (before `start`); its kinds get caches. */
  add(controller: Controller): this {
    if (this.#started) throw new Error(`Cannot add controller ${controller.name} after the manager started`);
    this.#controllers.push(controller);
    this.cache(controller.forKind);
    for (const kind of controller.owns) this.cache(kind);
    for (const kind of controller.watchedKinds) this.cache(kind);
    return this;
  }

  /** True when every cache has loaded its first list. */
  get synced(): boolean {
    return [...this.#caches.values()].every((c) => c.synced);
  }

  /** Base URL of the health server once started. */
  get healthUrl(): string | undefined {
    return this.#health?.url;
  }

  /**
   * Runs until `signal` aborts, then drains: stops taking keys, waits up to
   * `shutdownTimeoutMs` for in-flight reconciles, aborts the rest, releases the lease.
   * Rejects with `LeadershipLostError` when the lease was lost (workers are aborted at once).
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error('Manager already started');
    this.#started = true;
    const cfg = this.config;
    this.#health = await startHealthServer(
      {
        metrics: this.metrics,
        unsynced: () => [...this.#caches.entries()].filter(([, c]) => !c.synced).map(([id]) => id),
        stopping: () => this.#stopping,
      },
      cfg.healthHost ?? '0.0.0.0',
      cfg.healthPort,
    );
    this.log.info({ health: this.#health.url, identity: cfg.identity }, 'Started manager');
    for (const informer of this.#caches.values()) this.#cacheRuns.push(informer.run(this.#cacheAbort.signal));
    let lost = false;
    const elector = cfg.leaderElect
      ? new LeaderElector({
          client: this.client,
          namespace: cfg.leaderElectionNamespace,
          name: cfg.leaderElectionId,
          identity: cfg.identity,
          leaseDurationMs: cfg.leaseDurationMs,
          renewDeadlineMs: cfg.renewDeadlineMs,
          retryPeriodMs: cfg.retryPeriodMs,
          clock: this.#clock,
          log: this.log,
          metrics: this.metrics,
        })
      : undefined;
    try {
      await Promise.race([
        Promise.all([...this.#caches.values()].map((c) => c.whenSynced())),
        aborted(signal),
      ]);
      if (signal.aborted) return;
      this.log.info({ caches: this.#caches.size }, 'Caches synced');
      if (elector) {
        await elector.acquire(signal).catch(() => {});
        if (signal.aborted) return;
      }
      this.#hooks.onStartedLeading?.();
      const stopTaking = new AbortController();
      const abortWork = new AbortController();
      const runtime = {
        cache: (k: WatchedKind) => this.cache(k),
        log: this.log,
        metrics: this.metrics,
        clock: this.#clock,
      };
      const runs = Promise.all(
        this.#controllers.map((c) => c.run(runtime, stopTaking.signal, abortWork.signal)),
      );
      const holding = elector
        ? elector.holdUntilLost(signal)
        : aborted(signal).then(() => 'stopped' as const);
      const result = await holding;
      stopTaking.abort();
      if (result === 'lost') {
        lost = true;
        abortWork.abort(new LeadershipLostError('leader lease lost'));
        this.#hooks.onStoppedLeading?.();
      } else {
        const timer = this.#clock.sleep(cfg.shutdownTimeoutMs, abortWork.signal).then(
          () => abortWork.abort(new Error('shutdown timeout')),
          () => {},
        );
        await runs;
        abortWork.abort();
        await timer;
      }
      await runs;
    } finally {
      this.#stopping = true;
      if (elector && !lost) await elector.release();
      this.#cacheAbort.abort();
      await Promise.all(this.#cacheRuns);
      await this.#health?.close();
      this.log.info('Stopped manager');
    }
    if (lost) throw new LeadershipLostError('Lost the leader lease; stopped reconciling');
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
