/**
 * The sidecar's Prometheus metrics, on a registry per sidecar instance (tests run several in
 * one process). Route labels come from a fixed set, never from the raw URL, so a scanner
 * cannot blow up the label cardinality.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.ts';

/** The route label values. */
export type RouteLabel = 'chat_completions' | 'models' | 'health' | 'metrics' | 'other';

/**
 * The listener label values: `main` is SIDECAR_PORT (keys unless DISABLE_AUTH), `noauth` is
 * SIDECAR_NOAUTH_PORT (never keys).
 */
export type ListenerLabel = 'main' | 'noauth';

/** All sidecar metrics and their registry. */
export interface SidecarMetrics {
  registry: Registry;
  requests: FastCounter<'route' | 'status' | 'listener'>;
  duration: FastHistogram<'route' | 'stream'>;
  upstreamFirstByte: FastHistogram<'stream'>;
  inFlight: Gauge<'route'>;
  upstreamInFlight: Gauge;
  queued: Gauge;
  requestMemory: Gauge;
  requestBytes: Counter;
  responseBytes: Counter;
  refusals: Counter<'reason'>;
}

/** Live values read at scrape time. */
export interface MetricSources {
  /** Requests being handled by route (routes not seen yet are left out). */
  requestsInFlight: () => ReadonlyMap<RouteLabel, number>;
  queueLength: () => number;
  upstreamInFlight: () => number;
  /** Bytes of the request memory budget held by requests in flight. */
  requestMemory: () => number;
}

/** Creates the metrics on a fresh registry. `defaults` adds Node process metrics. */
export function createMetrics(options: { defaults: boolean; sources: MetricSources }): SidecarMetrics {
  const { sources } = options;
  const registry = new Registry();
  if (options.defaults) collectDefaultMetrics({ register: registry, prefix: 'sidecar_' });
  const registers = [registry];
  return {
    registry,
    requests: new FastCounter({
      name: 'sidecar_requests_total',
      help: 'Requests answered, by route, HTTP status and listener (main or noauth)',
      labelNames: ['route', 'status', 'listener'],
      registers,
    }),
    duration: new FastHistogram({
      name: 'sidecar_request_duration_seconds',
      help: 'Time from request start to the end of the response',
      labelNames: ['route', 'stream'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    upstreamFirstByte: new FastHistogram({
      name: 'sidecar_upstream_response_headers_seconds',
      help: 'Time from sending a request to vLLM until its response headers',
      labelNames: ['stream'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    inFlight: new Gauge({
      name: 'sidecar_requests_in_flight',
      help: 'Requests being handled, by route',
      labelNames: ['route'],
      registers,
      // Counted by the server in plain numbers (a gauge child's inc and dec hash their labels).
      collect() {
        for (const [route, n] of sources.requestsInFlight()) this.set({ route }, n);
      },
    }),
    upstreamInFlight: new Gauge({
      name: 'sidecar_upstream_in_flight',
      help: 'Requests holding an upstream slot',
      registers,
      collect() {
        this.set(sources.upstreamInFlight());
      },
    }),
    queued: new Gauge({
      name: 'sidecar_queue_length',
      help: 'Requests waiting for an upstream slot',
      registers,
      collect() {
        this.set(sources.queueLength());
      },
    }),
    requestMemory: new Gauge({
      name: 'sidecar_request_memory_bytes',
      help: 'Bytes of the request memory budget admitted to requests in flight',
      registers,
      collect() {
        this.set(sources.requestMemory());
      },
    }),
    requestBytes: new Counter({
      name: 'sidecar_request_body_bytes_total',
      help: 'Request body bytes received',
      registers,
    }),
    responseBytes: new Counter({
      name: 'sidecar_response_body_bytes_total',
      help: 'Response body bytes relayed from vLLM',
      registers,
    }),
    refusals: new Counter({
      name: 'sidecar_refusals_total',
      help: 'Requests the sidecar refused itself, by reason',
      labelNames: ['reason'],
      registers,
    }),
  };
}

/** Maps a request path to its route label. */
export function routeOf(path: string): RouteLabel {
  switch (path) {
    case '/v1/chat/completions':
      return 'chat_completions';
    case '/v1/models':
      return 'models';
    case '/health':
      return 'health';
    case '/metrics':
      return 'metrics';
    default:
      return 'other';
  }
}
