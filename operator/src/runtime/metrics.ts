import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** HTTP verbs that change state: the steady-state "no writes" check counts these. */
export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/**
 * The runtime's Prometheus metrics, in a registry of their own so two managers in one process
 * (tests) do not collide. Names follow controller-runtime's where one exists.
 */
export class RuntimeMetrics {
  readonly registry: Registry;
  /** Reconciles by controller and result (`success`, `requeue_after`, `error`, `terminal`). */
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  /** Reconciles that threw, by controller. */
  readonly reconcileErrors: Counter<'controller'>;
  /** Reconcile duration in seconds, by controller. */
  readonly reconcileTime: Histogram<'controller'>;
  /** Reconciles running now, by controller: with `workqueue_depth` 0, the controller is idle. */
  readonly activeWorkers: Gauge<'controller'>;
  /** Keys waiting in the queue (not counting keys in flight or waiting out a delay). */
  readonly queueDepth: Gauge<'name'>;
  /** Keys added to the queue, including duplicates that were folded. */
  readonly queueAdds: Counter<'name'>;
  /** Keys re-added with backoff after a failure. */
  readonly queueRetries: Counter<'name'>;
  /** API requests by verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`), resource and status code (`0` = no response). */
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  /** Full relists by resource and cause (`initial`, `expired`, `error`). */
  readonly informerRelists: Counter<'resource' | 'cause'>;
  /** Watch connections that ended with an error and were retried with backoff. */
  readonly watchErrors: Counter<'resource'>;
  /** 1 while this instance holds the leader lease. */
  readonly leader: Gauge;
  /** Series printed by hand after the registry's (see `addText`). */
  readonly #texts: (() => Iterable<string>)[] = [];

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Reconciles by controller and result.',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Reconciles that failed, by controller.',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Reconcile duration in seconds, by controller.',
      labelNames: ['controller'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Reconciles running now, by controller.',
      labelNames: ['controller'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['name'],
      registers,
    });
    this.queueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Keys added to the work queue.',
      labelNames: ['name'],
      registers,
    });
    this.queueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Keys re-added with backoff after a failure.',
      labelNames: ['name'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Kubernetes API requests by verb, resource and HTTP status code (0 = no response).',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    this.informerRelists = new Counter({
      name: 'informer_relists_total',
      help: 'Full lists by resource and cause.',
      labelNames: ['resource', 'cause'],
      registers,
    });
    this.watchErrors = new Counter({
      name: 'informer_watch_errors_total',
      help: 'Watch connections that failed and were retried with backoff.',
      labelNames: ['resource'],
      registers,
    });
    this.leader = new Gauge({
      name: 'leader_election_master_status',
      help: '1 while this instance leads.',
      registers,
    });
  }

  /**
   * Adds metrics printed by `render` (Prometheus' text format, in pieces each ending in a
   * newline) at each scrape, after the registry's: for series too many to go through
   * prom-client's formatting.
   */
  addText(render: () => Iterable<string>): void {
    this.#texts.push(render);
  }

  /**
   * Every metric in Prometheus' text format, in pieces: what `/metrics` streams. A piece is
   * printed when the reader asks for it, so a scrape holds a piece, not the whole text.
   */
  async *pieces(): AsyncGenerator<string> {
    yield await this.registry.metrics();
    for (const render of this.#texts) yield* render();
  }

  /** The whole text of `pieces()`. */
  async exposition(): Promise<string> {
    let text = '';
    for await (const piece of this.pieces()) text += piece;
    return text;
  }

  /** Sum of API requests whose verb matches `filter` (all when omitted), read from the counter. */
  async apiRequestCount(
    filter: (labels: { verb: string; resource: string; code: string }) => boolean = () => true,
  ): Promise<number> {
    const { values } = await this.apiRequests.get();
    let total = 0;
    for (const v of values) {
      const labels = {
        verb: String(v.labels.verb),
        resource: String(v.labels.resource),
        code: String(v.labels.code),
      };
      if (filter(labels)) total += v.value;
    }
    return total;
  }

  /** API write requests (create/update/patch/delete), optionally leaving out some resources. */
  apiWriteCount(exceptResources: string[] = []): Promise<number> {
    return this.apiRequestCount((l) => WRITE_VERBS.has(l.verb) && !exceptResources.includes(l.resource));
  }
}
