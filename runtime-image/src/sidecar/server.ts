/**
 * The sidecar's HTTP server: routes, the per-request log line and metrics, and graceful
 * shutdown; the chat completion request runs through the stages of chat-pipeline.ts. node:http rather than a framework: the proxy has four routes and the benchmark
 * budget is under a millisecond of added latency. With SIDECAR_NOAUTH_PORT a second listener
 * serves the same routes without the key check; everything else (limits, the upstream slots,
 * metrics, health, shutdown) is one shared instance.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { KeyStore } from './auth.ts';
import {
  authenticate,
  type ChatPipeline,
  type RequestContext,
  type RequestLog,
  runChat,
} from './chat-pipeline.ts';
import type { RequestPreparer } from './chat-request.ts';
import { parseConfig, type SidecarConfig, type SidecarConfigInput } from './config.ts';
import { Drain } from './drain.ts';
import { ApiError, internalError, methodNotAllowed, notFound, shuttingDown } from './errors.ts';
import { ConcurrencyLimiter } from './limiter.ts';
import { type Listener, listen } from './listener.ts';
import { requestLineWriter } from './logger.ts';
import { cgroupMemoryLimit, defaultRequestBudget, heapLimit, MemoryBudget } from './memory-budget.ts';
import {
  createMetrics,
  type ListenerLabel,
  type RouteLabel,
  routeOf,
  type SidecarMetrics,
} from './metrics.ts';
import { allowedRequestFields } from './schema.ts';
import { codeOf, Upstream, upstreamError } from './upstream.ts';
import { createUsageMetrics } from './usage/usage-metrics.ts';
import { VllmMetrics } from './vllm-metrics.ts';

/** What the sidecar needs besides its configuration. */
export interface SidecarDeps {
  /** Checks and rewrites each validated request (preparer.ts). */
  preparer: RequestPreparer;
  logger: Logger;
  /** Register Node process metrics (off in tests that start many sidecars). Default true. */
  processMetrics?: boolean;
}

/** A listening sidecar. */
export interface Sidecar {
  /** Base URL of the main listener (SIDECAR_PORT) on the loopback, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** The keyless listener (SIDECAR_NOAUTH_PORT), when configured. */
  noauth?: { url: string; port: number };
  metrics: SidecarMetrics;
  /** Stops accepting on every listener, lets in-flight requests finish for up to `graceMs`, then cuts the rest. */
  shutdown(graceMs?: number): Promise<void>;
}

/** How long, and how many bytes, a refused request's unread body is still read before closing. */
const LINGER_MS = 2_000;
const LINGER_BYTES = 4 * 1024 * 1024;

/**
 * Closes the connection of a request refused before its body was read, after a short lingering
 * read (nginx's lingering close): closing at once while the client is still sending makes the
 * kernel reset the connection, and the client loses the answer it has not read yet. So the rest
 * of the body is read and dropped for up to LINGER_MS or LINGER_BYTES, then the socket closes.
 * `Connection: close` is not sent, since node:http would then close the socket at once itself.
 */
function lingerThenClose(req: IncomingMessage): void {
  const socket = req.socket;
  if (req.complete) {
    socket.end();
    return;
  }
  // node:http drops a refused request's body itself (no 'data' events), so the bytes are
  // watched on the socket.
  const start = socket.bytesRead;
  const started = Date.now();
  const timer = setInterval(() => {
    if (socket.bytesRead - start > LINGER_BYTES || Date.now() - started > LINGER_MS) socket.destroy();
  }, 25);
  timer.unref();
  req.once('end', () => {
    clearInterval(timer);
    socket.end();
  });
  socket.once('close', () => clearInterval(timer));
  req.resume();
}

const clientGone = (): Error =>
  Object.assign(new Error('The client closed the connection'), { name: 'AbortError' });

/**
 * Metric children bound once per label set (few), made on first use and found by two keys
 * without building a key string per request.
 */
class BoundChildren<A, B, T> {
  readonly #children = new Map<A, Map<B, T>>();
  readonly #make: (a: A, b: B) => T;

  constructor(make: (a: A, b: B) => T) {
    this.#make = make;
  }

  get(a: A, b: B): T {
    let inner = this.#children.get(a);
    if (inner === undefined) {
      inner = new Map();
      this.#children.set(a, inner);
    }
    let child = inner.get(b);
    if (child === undefined) {
      child = this.#make(a, b);
      inner.set(b, child);
    }
    return child;
  }
}

/** Builds and starts the sidecar on `config.port` (0 picks a free port). */
export async function createSidecar(
  input: SidecarConfigInput | SidecarConfig,
  deps: SidecarDeps,
): Promise<Sidecar> {
  const config = parseConfig(input);
  const { preparer, logger } = deps;
  // The request line is built field by field from values that are never secret, so it skips
  // redaction, and is serialized in one piece (logger.ts).
  const requestLine = requestLineWriter(logger, 'Handled request');
  const keys = config.disableAuth
    ? undefined
    : new KeyStore({
        file: config.apiKeyHashesFile as string,
        reloadIntervalMs: config.keyReloadIntervalMs,
        logger,
      });
  keys?.start();
  const upstream = new Upstream(config);
  const vllmMetrics = new VllmMetrics(config.upstreamUrl);
  const limiter = new ConcurrencyLimiter({
    max: config.maxConcurrentUpstream,
    maxQueue: config.maxQueue,
    queueTimeoutMs: config.queueTimeoutMs,
    retryAfterSeconds: config.retryAfterSeconds,
  });
  const memoryLimit = config.memoryLimitBytes ?? cgroupMemoryLimit();
  const budget = new MemoryBudget(
    config.requestMemoryBytes ?? defaultRequestBudget(memoryLimit, heapLimit()),
    config.retryAfterSeconds,
  );
  // Requests in flight by route, read by the gauge at scrape time.
  const inFlightByRoute = new Map<RouteLabel, number>();
  const metrics = createMetrics({
    defaults: deps.processMetrics ?? true,
    sources: {
      requestsInFlight: () => inFlightByRoute,
      queueLength: () => limiter.queued,
      upstreamInFlight: () => limiter.inFlight,
      requestMemory: () => budget.used,
    },
  });
  // prom-client's Registry takes any metric with a name and get() (fast-metrics.ts).
  for (const metric of preparer.metrics ?? []) metrics.registry.registerMetric(metric as never);
  const usage = createUsageMetrics(metrics.registry);
  // The per-request histogram's children, by route and stream (the counter's are per listener).
  const durationByLabels = new BoundChildren((route: RouteLabel, stream: boolean) =>
    metrics.duration.labels({ route, stream: String(stream) }),
  );
  const retryAfter = String(config.retryAfterSeconds);
  // Request ids: a random prefix per process plus a counter, unique enough to correlate our
  // log line with vLLM's, and far cheaper than a UUID per request.
  const idPrefix = randomBytes(6).toString('base64url');
  let requestCount = 0;
  const created = Math.floor(Date.now() / 1000);
  const drain = new Drain();

  const sendJson = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    const text = JSON.stringify(body);
    if (drain.draining) headers.connection = 'close';
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };

  const sendError = (req: IncomingMessage, res: ServerResponse, error: unknown, log: RequestLog): void => {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    let apiError: ApiError;
    if (error instanceof ApiError) {
      apiError = error;
    } else {
      logger.error({ err: error, requestId: log.requestId }, 'Failed to handle request');
      apiError = internalError();
    }
    log.reason = apiError.reason;
    const code = codeOf(apiError.cause);
    if (code !== undefined) log.upstreamError = code;
    metrics.refusals.inc({ reason: apiError.reason });
    // The body may be partly unread (a 413, or a refusal before reading it): the connection
    // closes rather than the sidecar draining megabytes it will not use.
    if (!req.complete) res.once('finish', () => lingerThenClose(req));
    sendJson(res, apiError.status, apiError.toBody(), { ...apiError.headers });
  };

  const pipeline: ChatPipeline = {
    config,
    budget,
    allowedFields: allowedRequestFields(config.extraRequestFields),
    preparer,
    limiter,
    upstream,
    drain,
    metrics,
    usage,
    upstreamError: (error) => upstreamError(error, retryAfter),
    firstByte: {
      true: metrics.upstreamFirstByte.labels({ stream: 'true' }),
      false: metrics.upstreamFirstByte.labels({ stream: 'false' }),
    },
  };

  // Chat requests in any stage (body, preparer, queue, relay); shutdown waits for them.
  const chat = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => {
    drain.enter();
    try {
      await runChat(pipeline, req, res, ctx);
    } finally {
      drain.leave();
    }
  };

  const models = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void => {
    authenticate(ctx.keys, req.headers.authorization, ctx.log);
    sendJson(res, 200, {
      object: 'list',
      data: [
        {
          id: config.servedModelName,
          object: 'model',
          created,
          owned_by: 'pixtral-operator',
          max_model_len: config.maxContextLength,
        },
      ],
    });
  };

  const health = async (res: ServerResponse): Promise<void> => {
    if (drain.notReady) return sendJson(res, 503, { status: 'shutting down' });
    const ok = await upstream.healthy();
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'model server not ready' });
  };

  /** The request handler of one listener; `listenerKeys` is undefined on a keyless one. */
  const handlerFor = (listener: ListenerLabel, listenerKeys: KeyStore | undefined) => {
    const requestsByLabels = new BoundChildren((route: RouteLabel, status: number) =>
      metrics.requests.labels({ route, status: String(status), listener }),
    );
    return (req: IncomingMessage, res: ServerResponse): void => {
      const started = performance.now();
      const url = req.url ?? '/';
      const query = url.indexOf('?');
      const route = routeOf(query === -1 ? url : url.slice(0, query));
      const log: RequestLog = {
        requestId: `${idPrefix}-${(++requestCount).toString(36)}`,
        listener,
        route,
        method: req.method,
      };
      const ctx: RequestContext = { log, keys: listenerKeys, controller: new AbortController() };
      inFlightByRoute.set(route, (inFlightByRoute.get(route) ?? 0) + 1);
      res.once('close', () => {
        const finished = res.writableFinished;
        if (!finished) {
          const gone = clientGone();
          ctx.controller.abort(gone);
          ctx.relay?.abort(gone);
        }
        inFlightByRoute.set(route, (inFlightByRoute.get(route) as number) - 1);
        ctx.admission?.release();
        const status = finished ? res.statusCode : 499;
        log.status = status;
        const seconds = (performance.now() - started) / 1000;
        requestsByLabels.get(route, status).inc();
        if (log.keyId !== undefined) usage.request(log.keyId, status);
        durationByLabels.get(route, log.stream === true).observe(seconds);
        log.durationMs = Math.round(seconds * 1e4) / 10;
        requestLine(route === 'health' || route === 'metrics' ? 'debug' : 'info', log);
      });
      const method = req.method;
      const fail = (error: unknown): void => sendError(req, res, error, log);
      if (drain.draining && route !== 'health' && route !== 'metrics') {
        fail(shuttingDown(retryAfter));
        return;
      }
      try {
        if (route === 'chat_completions' && method === 'POST') {
          chat(req, res, ctx).catch(fail);
        } else if (route === 'models' && method === 'GET') {
          models(req, res, ctx);
        } else if (route === 'health' && method === 'GET') {
          health(res).catch(fail);
        } else if (route === 'metrics' && method === 'GET') {
          Promise.all([metrics.registry.metrics(), vllmMetrics.text()]).then(([own, vllm]) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType });
            res.end(vllm === '' ? own : `${own.endsWith('\n') ? own : `${own}\n`}${vllm}`);
          }, fail);
        } else if (route !== 'other') {
          fail(methodNotAllowed(route === 'chat_completions' ? 'POST' : 'GET'));
        } else {
          fail(notFound());
        }
      } catch (error) {
        fail(error);
      }
    };
  };

  const listeners: Listener[] = [];
  try {
    listeners.push(
      await listen(config, {
        port: config.port,
        envName: 'SIDECAR_PORT',
        onRequest: handlerFor('main', keys),
      }),
    );
    if (config.noauthPort !== undefined) {
      listeners.push(
        await listen(config, {
          port: config.noauthPort,
          envName: 'SIDECAR_NOAUTH_PORT',
          onRequest: handlerFor('noauth', undefined),
        }),
      );
    }
  } catch (error) {
    // A half-started sidecar must not keep a port, a watcher or upstream sockets open.
    await Promise.all(
      listeners.map(({ server }) => new Promise((resolve) => server.close(() => resolve(undefined)))),
    );
    keys?.close();
    await Promise.all([upstream.close(), vllmMetrics.close()]);
    throw error;
  }
  const [main, noauth] = listeners as [Listener, Listener | undefined];
  logger.info(
    {
      port: main.port,
      ...(noauth ? { noauthPort: noauth.port } : {}),
      upstream: config.upstreamUrl,
      auth: keys !== undefined,
    },
    'Started sidecar',
  );

  const shutdown = (graceMs = config.shutdownGraceMs): Promise<void> =>
    drain.run({
      servers: listeners.map((l) => l.server),
      logger,
      graceMs,
      delayMs: config.shutdownDelayMs,
      release: async () => {
        keys?.close();
        await Promise.all([upstream.close(), vllmMetrics.close()]);
      },
    });

  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const urlOf = (port: number): string => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: urlOf(main.port),
    port: main.port,
    ...(noauth ? { noauth: { url: urlOf(noauth.port), port: noauth.port } } : {}),
    metrics,
    shutdown,
  };
}
