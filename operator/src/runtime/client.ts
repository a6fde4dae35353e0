/**
 * A thin Kubernetes REST client over client-node's `KubeConfig` (which does the hard part:
 * kubeconfig files, in-cluster tokens, exec plugins, client certificates, TLS).
 *
 * Why not client-node's own request layers: `KubernetesObjectApi` cannot address the status
 * subresource (needed for status apply) and makes discovery calls, its `Watch` opens requests
 * we could not count, and `applySecurityAuthentication` builds a new connection pool per
 * request. Owning the one function every request goes through gives us a single place to
 * count requests by verb and status code (`rest_client_requests_total`), reuse connections,
 * and tag our traffic with a User-Agent that shows up in the API server's audit log.
 */
import { Readable } from 'node:stream';
import {
  HttpMethod,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  RequestContext,
} from '@kubernetes/client-node';
import { type Dispatcher, fetch } from 'undici';
import { KubeApiError } from './errors.ts';
import { collectionPath, type KindRef, type ObjectKey, objectKey, objectPath } from './kinds.ts';
import type { RuntimeMetrics } from './metrics.ts';

/** One event of a watch stream, as the API server sends it. */
export interface WatchEvent<T extends KubernetesObject = KubernetesObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Options of `KubeClient`. */
export interface KubeClientOptions {
  kubeConfig: KubeConfig;
  metrics?: RuntimeMetrics;
  /** Sent as User-Agent; the audit log records it. Default `pixtral-operator`. */
  userAgent?: string;
  /** Deadline for non-watch requests, in ms. Default 30000; 0 means none. */
  requestTimeoutMs?: number;
}

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  resource: string;
}

interface Auth {
  headers: Record<string, string>;
  dispatcher: Dispatcher | undefined;
  at: number;
}

/** Re-read credentials this often (ms): service-account tokens rotate, exec tokens expire. */
const AUTH_TTL_MS = 60_000;

/** Kubernetes REST client used by every part of the runtime. */
export class KubeClient {
  readonly #kc: KubeConfig;
  readonly #server: string;
  readonly #metrics: RuntimeMetrics | undefined;
  readonly #userAgent: string;
  readonly #timeoutMs: number;
  #auth: Promise<Auth> | undefined;

  constructor(options: KubeClientOptions) {
    this.#kc = options.kubeConfig;
    const cluster = this.#kc.getCurrentCluster();
    if (!cluster) throw new Error('The kubeconfig has no current cluster: set current-context');
    this.#server = cluster.server.replace(/\/+$/, '');
    this.#metrics = options.metrics;
    this.#userAgent = options.userAgent ?? 'pixtral-operator';
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** GET one object; `undefined` when it does not exist. */
  async get<T extends KubernetesObject>(
    kind: KindRef,
    key: ObjectKey,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    try {
      return await this.#json<T>('get', 'GET', objectPath(kind, key), { resource: kind.plural, signal });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** One page of a list. */
  list<T extends KubernetesObject>(
    kind: KindRef,
    options: {
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
      limit?: number;
      continue?: string;
      signal?: AbortSignal;
    } = {},
  ): Promise<KubernetesListObject<T>> {
    return this.#json('list', 'GET', collectionPath(kind, options.namespace), {
      resource: kind.plural,
      signal: options.signal,
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
      },
    });
  }

  /** POST a new object. */
  create<T extends KubernetesObject>(
    kind: KindRef,
    obj: T,
    options: { fieldManager?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.#json('create', 'POST', collectionPath(kind, obj.metadata?.namespace), {
      resource: kind.plural,
      body: obj,
      signal: options.signal,
      query: { fieldManager: options.fieldManager },
    });
  }

  /** PUT an object (optimistic concurrency through `metadata.resourceVersion`). */
  replace<T extends KubernetesObject>(
    kind: KindRef,
    obj: T,
    options: { subresource?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.#json('update', 'PUT', objectPath(kind, objectKey(obj), options.subresource), {
      resource: resourceLabel(kind, options.subresource),
      body: obj,
      signal: options.signal,
    });
  }

  /** Server-side apply: PATCH with `application/apply-patch+yaml` (JSON is valid YAML). */
  apply<T extends KubernetesObject>(
    kind: KindRef,
    obj: KubernetesObject,
    options: {
      fieldManager: string;
      force?: boolean;
      subresource?: string;
      dryRun?: boolean;
      signal?: AbortSignal;
    },
  ): Promise<T> {
    return this.#json('patch', 'PATCH', objectPath(kind, objectKey(obj), options.subresource), {
      resource: resourceLabel(kind, options.subresource),
      body: obj,
      contentType: 'application/apply-patch+yaml',
      signal: options.signal,
      query: {
        fieldManager: options.fieldManager,
        force: options.force,
        dryRun: options.dryRun ? 'All' : undefined,
      },
    });
  }

  /** JSON merge patch; include `metadata.resourceVersion` in the patch for an optimistic lock. */
  mergePatch<T extends KubernetesObject>(
    kind: KindRef,
    key: ObjectKey,
    patch: unknown,
    options: { subresource?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.#json('patch', 'PATCH', objectPath(kind, key, options.subresource), {
      resource: resourceLabel(kind, options.subresource),
      body: patch,
      contentType: 'application/merge-patch+json',
      signal: options.signal,
    });
  }

  /** DELETE an object; resolves `false` when it was already gone. */
  async delete(
    kind: KindRef,
    key: ObjectKey,
    options: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; signal?: AbortSignal } = {},
  ): Promise<boolean> {
    try {
      await this.#json('delete', 'DELETE', objectPath(kind, key), {
        resource: kind.plural,
        signal: options.signal,
        query: { propagationPolicy: options.propagationPolicy },
      });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return false;
      throw err;
    }
  }

  /**
   * Opens a watch and yields its events until the server ends the stream, `signal` aborts,
   * or no byte arrives for `idleTimeoutMs` (a half-open connection). A non-200 answer (410
   * included) throws `KubeApiError`; a broken stream throws `KubeApiError` with code 0.
   */
  async *watch<T extends KubernetesObject>(
    kind: KindRef,
    options: {
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
      resourceVersion: string;
      timeoutSeconds: number;
      idleTimeoutMs: number;
      signal?: AbortSignal;
    },
  ): AsyncGenerator<WatchEvent<T>> {
    const path = collectionPath(kind, options.namespace);
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // A signal aborted before the listener was added never fires it: an informer stopped right
    // after a relist would otherwise hold its watch open until the server's timeout (minutes).
    if (options.signal?.aborted) onAbort();
    let idle: NodeJS.Timeout | undefined;
    let idledOut = false;
    let body: Readable | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        idledOut = true;
        controller.abort(new Error('watch idle timeout'));
      }, options.idleTimeoutMs);
      idle.unref();
    };
    try {
      armIdle();
      const response = await this.#fetch('watch', 'GET', path, {
        resource: kind.plural,
        signal: controller.signal,
        query: {
          watch: true,
          allowWatchBookmarks: true,
          resourceVersion: options.resourceVersion,
          timeoutSeconds: options.timeoutSeconds,
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
        },
      });
      if (!response.body) return;
      body = Readable.fromWeb(response.body);
      // Aborting the request in `finally` errors the stream after we stopped reading it.
      body.on('error', () => {});
      // Split lines by hand: readline's iterator never settles when its input errors.
      const decoder = new TextDecoder();
      let pending = '';
      for await (const chunk of body) {
        armIdle();
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line) yield JSON.parse(line) as WatchEvent<T>;
          newline = pending.indexOf('\n');
        }
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      if (err instanceof KubeApiError) throw err;
      const message = idledOut ? 'no data within the idle timeout' : String((err as Error)?.message ?? err);
      throw new KubeApiError(
        { code: 0, reason: 'WatchBroken', verb: 'watch', path, message },
        { cause: err },
      );
    } finally {
      clearTimeout(idle);
      options.signal?.removeEventListener('abort', onAbort);
      body?.destroy();
      controller.abort();
    }
  }

  async #json<T>(verb: string, method: string, path: string, options: RequestOptions): Promise<T> {
    // A deadline of our own, cleared when the answer is read: `AbortSignal.timeout` combined by
    // `AbortSignal.any` stays armed for its full 30 s, and with it the request's signal and
    // listeners, so at scale the heap held some 30 s of finished requests.
    const controller = new AbortController();
    const deadline =
      this.#timeoutMs > 0
        ? setTimeout(
            () => controller.abort(new DOMException('The request timed out', 'TimeoutError')),
            this.#timeoutMs,
          )
        : undefined;
    const caller = options.signal;
    const onAbort = () => controller.abort(caller?.reason);
    if (caller?.aborted) onAbort();
    else caller?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.#fetch(verb, method, path, { ...options, signal: controller.signal });
      return (await response.json()) as T;
    } finally {
      clearTimeout(deadline);
      caller?.removeEventListener('abort', onAbort);
    }
  }

  async #fetch(verb: string, method: string, path: string, options: RequestOptions) {
    const url = new URL(this.#server + path);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const auth = await this.#credentials();
    const headers: Record<string, string> = {
      ...auth.headers,
      accept: 'application/json',
      'user-agent': this.#userAgent,
    };
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        dispatcher: auth.dispatcher,
        signal: options.signal,
      });
    } catch (err) {
      this.#metrics?.apiRequests.inc({ verb, resource: options.resource, code: '0' });
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const message = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new KubeApiError({ code: 0, reason: 'NoResponse', verb, path, message }, { cause: err });
    }
    this.#metrics?.apiRequests.inc({ verb, resource: options.resource, code: String(response.status) });
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    let status: { reason?: string; message?: string } = {};
    try {
      status = JSON.parse(text);
    } catch {
      status = { message: text.slice(0, 200) };
    }
    throw new KubeApiError({
      code: response.status,
      reason: status.reason ?? response.statusText,
      verb,
      path,
      message: status.message ?? '',
    });
  }

  #credentials(): Promise<Auth> {
    const cached = this.#auth;
    if (cached) {
      return cached.then((a) => {
        if (performance.now() - a.at < AUTH_TTL_MS) return a;
        this.#auth = undefined;
        return this.#credentials();
      });
    }
    const fresh = (async () => {
      const ctx = new RequestContext(this.#server, HttpMethod.GET);
      await this.#kc.applySecurityAuthentication(ctx);
      return {
        headers: ctx.getHeaders(),
        dispatcher: ctx.getDispatcher() as Dispatcher | undefined,
        at: performance.now(),
      };
    })();
    this.#auth = fresh;
    fresh.catch(() => {
      if (this.#auth === fresh) this.#auth = undefined;
    });
    return fresh;
  }
}

function resourceLabel(kind: KindRef, subresource?: string): string {
  return subresource ? `${kind.plural}/${subresource}` : kind.plural;
}
