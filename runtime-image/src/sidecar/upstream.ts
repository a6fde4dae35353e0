/**
 * The connection to vLLM: a keep-alive undici Pool, requests built from an allow-list of
 * headers (the client's headers, and above all its key, never go upstream; copying hop-by-hop
 * headers would also make undici throw), and the mapping of upstream failures to 502/503/504.
 */
import { Client, type Dispatcher, Pool } from 'undici';
import type { SidecarConfig } from './config.ts';
import { type ApiError, upstreamFailed, upstreamTimeout, upstreamUnavailable } from './errors.ts';

/** Talks to vLLM's OpenAI server. */
export class Upstream {
  private readonly pool: Pool;
  // Health probes use their own connection so they never queue behind long generations.
  private readonly probe: Client;
  private readonly prefix: string;
  private readonly chatPath: string;
  private readonly authorization: string | undefined;
  private health: { at: number; ok: boolean; pending?: Promise<boolean> } = { at: 0, ok: false };
  private readonly healthCacheMs: number;

  constructor(config: SidecarConfig) {
    const url = new URL(config.upstreamUrl);
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.chatPath = `${this.prefix}/v1/chat/completions`;
    this.authorization = config.upstreamApiKey === undefined ? undefined : `Bearer ${config.upstreamApiKey}`;
    this.healthCacheMs = config.healthCacheMs;
    this.pool = new Pool(url.origin, {
      connections: config.maxConcurrentUpstream,
      pipelining: 1,
      connect: { timeout: config.upstreamConnectTimeoutMs },
      headersTimeout: config.upstreamHeadersTimeoutMs,
      bodyTimeout: config.upstreamIdleTimeoutMs,
      keepAliveTimeout: 30_000,
    });
    this.probe = new Client(url.origin, {
      connect: { timeout: config.upstreamConnectTimeoutMs },
      headersTimeout: 2_000,
      bodyTimeout: 2_000,
    });
  }

  /**
   * Sends a chat completion body (already re-serialized JSON) and feeds the response to
   * `handler` (relay.ts). Failures reach the handler's onResponseError as undici errors;
   * `upstreamError` maps them to 502/503/504.
   */
  dispatchChat(body: string, requestId: string, handler: Dispatcher.DispatchHandler): void {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-request-id': requestId,
    };
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    this.pool.dispatch({ method: 'POST', path: this.chatPath, headers, body }, handler);
  }

  /** True when vLLM's /health answered 200 recently; one probe at a time, cached briefly. */
  healthy(): Promise<boolean> {
    const now = Date.now();
    if (this.health.pending !== undefined) return this.health.pending;
    if (now - this.health.at < this.healthCacheMs) return Promise.resolve(this.health.ok);
    const pending = this.probe
      .request({ method: 'GET', path: `${this.prefix}/health` })
      .then(async (res) => {
        await res.body.dump();
        return res.statusCode === 200;
      })
      .catch(() => false)
      .then((ok) => {
        this.health = { at: Date.now(), ok };
        return ok;
      });
    this.health.pending = pending;
    return pending;
  }

  /** Closes the pools, cutting whatever is still open. */
  async close(): Promise<void> {
    await Promise.allSettled([this.pool.destroy(), this.probe.destroy()]);
  }
}

/** The error code of an undici failure (on the error, its cause, or the first of several), if any. */
export function codeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown }; errors?: Array<{ code?: unknown }> };
  for (const code of [e?.code, e?.cause?.code, e?.errors?.[0]?.code])
    if (typeof code === 'string') return code;
  return undefined;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Maps an undici failure to the client's answer: vLLM not listening (down, or still loading
 * the model) is 503 with Retry-After; too slow is 504; anything else is 502.
 */
export function upstreamError(error: unknown, retryAfter: string): ApiError {
  const code = codeOf(error);
  if (code !== undefined && (UNREACHABLE.has(code) || code === 'UND_ERR_CONNECT_TIMEOUT'))
    return upstreamUnavailable(error, retryAfter);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return upstreamTimeout(error);
  return upstreamFailed(error);
}
