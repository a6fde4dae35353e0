/**
 * The sidecar's error catalogue: every refusal the sidecar gives is an ApiError, rendered in
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
