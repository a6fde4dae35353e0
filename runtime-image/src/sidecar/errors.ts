/**
 * The sidecar's error catalogue, the one place its refusals are written: every refusal the sidecar gives is an ApiError, rendered in
 * OpenAI's error shape `{ error: { message, type, param, code } }` with its HTTP status.
 * vLLM uses the same shape, so clients see one format whoever refused the request.
 */

/** OpenAI's `error.type` values that the sidecar uses, plus vLLM's for its context refusal. */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'BadRequestError'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable_error';

/** The JSON body OpenAI clients parse. */
export interface OpenAiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | number | null };
}

/** A refusal with its HTTP status; `message` is safe to show to the client (no secrets, no internals). */
export class ApiError extends Error {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly param: string | null;
  readonly code: string | number | null;
  /** Short machine reason for metrics and logs (for example `too_many_images`). */
  readonly reason: string;
  /** Extra response headers (for example Retry-After). */
  readonly headers: Record<string, string>;

  constructor(init: {
    status: number;
    type: ApiErrorType;
    message: string;
    reason: string;
    param?: string | null;
    code?: string | number | null;
    headers?: Record<string, string>;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ApiError';
    this.status = init.status;
    this.type = init.type;
    this.param = init.param ?? null;
    this.code = init.code ?? null;
    this.reason = init.reason;
    this.headers = init.headers ?? {};
  }

  /** The body sent to the client. */
  toBody(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400: the request is malformed or breaks a limit that is not about size. */
export function badRequest(reason: string, message: string, param: string | null = null): ApiError {
  return new ApiError({ status: 400, type: 'invalid_request_error', reason, message, param });
}

/** 413: the request is too large (body size, image count). */
export function tooLarge(reason: string, message: string, param: string | null = null): ApiError {
  return new ApiError({ status: 413, type: 'invalid_request_error', reason, message, param });
}

/** 413: the body is longer than MAX_BODY_BYTES. */
export function bodyTooLarge(limit: number): ApiError {
  return tooLarge('body_too_large', `The request body exceeds the limit of ${limit} bytes.`);
}

/** 413 for one image too many, in vLLM's own wording, with our status. */
export function tooManyImages(limit: number, count: number): ApiError {
  return new ApiError({
    status: 413,
    type: 'invalid_request_error',
    reason: 'too_many_images',
    code: 'too_many_images',
    param: 'messages',
    message: `At most ${limit} image(s) may be provided in one prompt; this request has ${count}.`,
  });
}

/** 415 unless the body is JSON. */
export function unsupportedMediaType(): ApiError {
  return new ApiError({
    status: 415,
    type: 'invalid_request_error',
    reason: 'unsupported_media_type',
    message: 'Content-Type must be application/json.',
  });
}

/** 415 for a compressed body (see body.ts for why none is decoded). */
export function unsupportedContentEncoding(header: string): ApiError {
  return new ApiError({
    status: 415,
    type: 'invalid_request_error',
    reason: 'unsupported_content_encoding',
    message: `Content-Encoding ${JSON.stringify(header.slice(0, 64))} is not accepted; send the body uncompressed.`,
  });
}

/** 404 for another model than the served one, as OpenAI answers an unknown model. */
export function modelNotFound(model: string, served: string): ApiError {
  return new ApiError({
    status: 404,
    type: 'invalid_request_error',
    reason: 'model_not_found',
    code: 'model_not_found',
    param: 'model',
    message: `The model \`${model.slice(0, 200)}\` does not exist. This endpoint serves \`${served}\`.`,
  });
}

/** A 400 whose body is vLLM's `{"error": {"message", "type": "BadRequestError", "param", "code": 400}}`. */
export function contextLengthExceeded(message: string): ApiError {
  return new ApiError({
    status: 400,
    type: 'BadRequestError',
    reason: 'context_length_exceeded',
    message,
    param: 'input_tokens',
    code: 400,
  });
}

const mib = (bytes: number): number => Math.ceil(bytes / (1024 * 1024));

/** 413: even alone the request would not fit the memory budget; retrying cannot help. */
export function overMemoryBudget(bytes: number, capacity: number): ApiError {
  return new ApiError({
    status: 413,
    type: 'invalid_request_error',
    reason: 'request_over_memory_budget',
    code: 'request_too_large',
    message: `Handling this request would take about ${mib(bytes)} MiB, more than this server's request memory budget of ${mib(capacity)} MiB (REQUEST_MEMORY_BYTES). Send fewer or smaller images.`,
  });
}

/** 503: other requests hold the memory budget now; one of them finishing makes room. */
export function memoryBudgetExhausted(retryAfterSeconds: string): ApiError {
  return new ApiError({
    status: 503,
    type: 'service_unavailable_error',
    reason: 'memory_budget_exhausted',
    code: 'server_busy',
    message: 'The server is handling as many large requests as its memory allows. Retry after a short wait.',
    headers: { 'retry-after': retryAfterSeconds },
  });
}

/** 429: the upstream slots and their queue are full, or the wait in the queue ran out (`reason`). */
export function tooManyRequests(reason: string, retryAfterSeconds: string): ApiError {
  return new ApiError({
    status: 429,
    type: 'rate_limit_error',
    reason,
    code: 'rate_limit_exceeded',
    message: 'The server is handling too many requests. Retry after a short wait.',
    headers: { 'retry-after': retryAfterSeconds },
  });
}

/** 503: vLLM refused the connection (still loading, restarting). */
export function upstreamUnavailable(cause: unknown, retryAfterSeconds: string): ApiError {
  return new ApiError({
    status: 503,
    type: 'service_unavailable_error',
    reason: 'upstream_unavailable',
    message: 'The model server is not available yet. Retry after a short wait.',
    headers: { 'retry-after': retryAfterSeconds },
    cause,
  });
}

/** 504: vLLM did not send its headers or its body in time. */
export function upstreamTimeout(cause: unknown): ApiError {
  return new ApiError({
    status: 504,
    type: 'server_error',
    reason: 'upstream_timeout',
    message: 'The model server did not answer in time.',
    cause,
  });
}

/** 502: any other failure of the exchange with vLLM. */
export function upstreamFailed(cause: unknown): ApiError {
  return new ApiError({
    status: 502,
    type: 'server_error',
    reason: 'upstream_error',
    message: 'The model server failed to answer.',
    cause,
  });
}

/** 401 for a missing, malformed or wrong key; deliberately the same answer for all three. */
export function unauthorized(): ApiError {
  return new ApiError({
    status: 401,
    type: 'invalid_request_error',
    reason: 'unauthorized',
    code: 'invalid_api_key',
    message: 'Missing or invalid API key. Send it as "Authorization: Bearer <key>".',
    headers: { 'www-authenticate': 'Bearer' },
  });
}

/** 404 for a path the sidecar does not serve (vLLM's other routes stay unreachable). */
export function notFound(): ApiError {
  return new ApiError({
    status: 404,
    type: 'not_found_error',
    reason: 'not_found',
    message: 'Unknown path.',
  });
}

/** 405 with the Allow header. */
export function methodNotAllowed(allow: string): ApiError {
  return new ApiError({
    status: 405,
    type: 'invalid_request_error',
    reason: 'method_not_allowed',
    message: `Use ${allow} for this path.`,
    headers: { allow },
  });
}

/** 503 for a new request while draining: the client should go to another replica. */
export function shuttingDown(retryAfterSeconds: string): ApiError {
  return new ApiError({
    status: 503,
    type: 'service_unavailable_error',
    reason: 'shutting_down',
    message: 'The server is shutting down. Retry on another replica.',
    headers: { 'retry-after': retryAfterSeconds },
  });
}

/** The error event a stream still open at the shutdown deadline ends with. */
export function cutAtShutdown(): ApiError {
  return new ApiError({
    status: 503,
    type: 'service_unavailable_error',
    reason: 'shutting_down',
    message: 'The server shut down before the answer was complete.',
  });
}

/** 500 for a bug; the detail goes to the log, never to the client. */
export function internalError(): ApiError {
  return new ApiError({ status: 500, type: 'server_error', reason: 'internal', message: 'Internal error.' });
}
