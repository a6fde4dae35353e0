/**
 * The chat completion request path as named stages, in the order they run (docs/sidecar.md
 * explains why each sits where it does). Each stage is a small function that either passes or
 * throws a refusal from errors.ts, after which nothing later runs; `runChat` composes them and is
 * the one place to read the order, in the way fastify's hooks or undici's handlers are listed.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { KeyStore } from './auth.ts';
import { checkContentEncoding, checkContentType, readJsonBody } from './body.ts';
import type { ChatCompletionRequest, PreparedRequest, RequestPreparer } from './chat-request.ts';
import type { SidecarConfig } from './config.ts';
import type { Drain } from './drain.ts';
import { type ApiError, unauthorized } from './errors.ts';
import type { ConcurrencyLimiter, Release } from './limiter.ts';
import { type Admission, COST_PER_BODY_BYTE, type MemoryBudget } from './memory-budget.ts';
import type { ListenerLabel, RouteLabel, SidecarMetrics } from './metrics.ts';
import { Relay } from './relay.ts';
import { checkModel, validateChatRequest } from './schema.ts';
import type { Upstream } from './upstream.ts';
import { CompletionUsage, requestUsage } from './usage/completion-usage.ts';
import type { UsageMetrics } from './usage/usage-metrics.ts';

/** Per-request facts for the log line; never bodies, never keys. */
export interface RequestLog {
  requestId: string;
  listener: ListenerLabel;
  route: RouteLabel;
  method: string | undefined;
  status?: number;
  keyId?: string;
  stream?: boolean;
  images?: number;
  promptTokens?: number;
  completionTokens?: number;
  reason?: string;
  bytesIn?: number;
  bytesOut?: number;
  outcome?: string;
  /** The undici error code when vLLM failed (for example ECONNREFUSED), never a message. */
  upstreamError?: string;
  durationMs?: number;
}

/** One request's state, shared by its stages and by its close handler in server.ts. */
export interface RequestContext {
  log: RequestLog;
  /** The keys this request must present; undefined on a keyless listener. */
  keys: KeyStore | undefined;
  /** Aborts when the client goes away; the preparer and the queue listen to it. */
  controller: AbortController;
  /** The upstream exchange, once started; aborted directly on client close (cheaper than a signal listener). */
  relay?: Relay;
  /** The request's share of the memory budget, released when vLLM has the body or the request ends. */
  admission?: Admission;
}

/** The sidecar's shared parts the chat stages use. */
export interface ChatPipeline {
  config: SidecarConfig;
  budget: MemoryBudget;
  allowedFields: ReadonlySet<string>;
  preparer: RequestPreparer;
  limiter: ConcurrencyLimiter;
  upstream: Upstream;
  drain: Drain;
  metrics: SidecarMetrics;
  usage: UsageMetrics;
  /** Turns an undici failure into the refusal the client gets (upstream.ts). */
  upstreamError: (error: unknown) => ApiError;
  /** The first-byte histogram's children for non-stream and stream requests, bound once. */
  firstByte: Record<'true' | 'false', ReturnType<SidecarMetrics['upstreamFirstByte']['labels']>>;
}

/** 401 unless the listener is keyless or the Authorization header carries a known key; logs the key's id. */
export function authenticate(
  keys: KeyStore | undefined,
  authorization: string | undefined,
  log: RequestLog,
): void {
  if (keys === undefined) return;
  const result = keys.check(authorization);
  if (result === null) throw unauthorized();
  log.keyId = result.keyId;
}

/** 415 unless the body is declared as uncompressed JSON. */
export function checkHeaders(headers: IncomingHttpHeaders): void {
  checkContentType(headers['content-type']);
  checkContentEncoding(headers['content-encoding']);
}

/** Opens the request's share of the memory budget; its bytes are admitted as they arrive. */
export function admitMemory(budget: MemoryBudget, ctx: RequestContext): Admission {
  const admission = budget.open();
  ctx.admission = admission;
  return admission;
}

/** Reads and parses the body within the size, structure and memory limits (413, 400, 503). */
export async function readBody(
  req: IncomingMessage,
  config: SidecarConfig,
  admission: Admission,
  log: RequestLog,
): Promise<unknown> {
  const { value, bytes } = await readJsonBody(req, {
    maxBytes: config.maxBodyBytes,
    maxDepth: config.maxJsonDepth,
    maxValues: config.maxJsonValues,
    admit: (n) => admission.add(n * COST_PER_BODY_BYTE),
  });
  log.bytesIn = bytes;
  return value;
}

/** The chat request schema and field allow-list (400 naming the field), then the served model (404). */
export function validate(
  value: unknown,
  allowedFields: ReadonlySet<string>,
  servedModelName: string,
  log: RequestLog,
): ChatCompletionRequest {
  const request = validateChatRequest(value, allowedFields);
  checkModel(request, servedModelName);
  log.stream = request.stream === true;
  return request;
}

/** Images (count, fetch, checks, data: rewrite) and the token count, by the preparer (preparer.ts). */
export async function prepare(
  preparer: RequestPreparer,
  request: ChatCompletionRequest,
  signal: AbortSignal,
  admission: Admission,
  log: RequestLog,
): Promise<PreparedRequest> {
  const prepared = await preparer(request, signal, admission.add);
  log.images = prepared.imageCount;
  if (prepared.promptTokens !== undefined) log.promptTokens = prepared.promptTokens;
  return prepared;
}

/** Waits for an upstream slot (429 when the queue is full or the wait runs out). */
export function queue(limiter: ConcurrencyLimiter, signal: AbortSignal): Promise<Release> {
  return limiter.acquire(signal);
}

/**
 * Forwards the prepared request to vLLM and relays the answer, reading vLLM's completion count
 * on the way; bills the key for what vLLM served.
 */
export async function relay(
  p: ChatPipeline,
  res: ServerResponse,
  ctx: RequestContext,
  prepared: PreparedRequest,
  admission: Admission,
): Promise<void> {
  const { log } = ctx;
  const running = new Relay(res, p.upstreamError);
  running.onHeaders = admission.release;
  const { request: forwarded, stripUsageChunk } = requestUsage(prepared.request);
  const completion = new CompletionUsage({ stream: log.stream === true, stripUsageChunk });
  running.tap = completion;
  ctx.relay = running;
  const sent = performance.now();
  if (p.drain.draining) res.setHeader('connection', 'close');
  p.upstream.dispatchChat(JSON.stringify(forwarded), log.requestId, running);
  const inFlight = p.drain.relays.add(running);
  try {
    log.outcome = await running.done;
  } finally {
    p.drain.relays.delete(inFlight);
  }
  if (running.failure !== undefined) log.upstreamError = running.failure;
  if (running.headersAt > 0) {
    p.firstByte[log.stream === true ? 'true' : 'false'].observe((running.headersAt - sent) / 1000);
  }
  log.bytesOut = running.bytes;
  p.metrics.responseBytes.inc(running.bytes);
  if (completion.completionTokens !== undefined) log.completionTokens = completion.completionTokens;
  // What vLLM served is billed to the key; a stream cut short has no usage chunk, so no completion count.
  if (log.keyId !== undefined && res.statusCode === 200) {
    p.usage.usage(log.keyId, {
      promptTokens: prepared.promptTokens ?? 0,
      completionTokens: completion.completionTokens,
      images: prepared.imageCount,
    });
  }
}

/** One chat completion request, stage by stage; a refusal is thrown to the caller, which answers it. */
export async function runChat(
  p: ChatPipeline,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
): Promise<void> {
  const { log } = ctx;
  const signal = ctx.controller.signal;
  authenticate(ctx.keys, req.headers.authorization, log);
  checkHeaders(req.headers);
  const admission = admitMemory(p.budget, ctx);
  const body = await readBody(req, p.config, admission, log);
  p.metrics.requestBytes.inc(log.bytesIn ?? 0);
  const request = validate(body, p.allowedFields, p.config.servedModelName, log);
  const prepared = await prepare(p.preparer, request, signal, admission, log);
  const release = await queue(p.limiter, signal);
  try {
    if (signal.aborted) return;
    await relay(p, res, ctx, prepared, admission);
  } finally {
    release();
  }
}
