/**
 * The proxy's own refusals (auth, routing, shutdown), built on the catalogue in errors.ts so
 * every one has the OpenAI error shape and a reason label for metrics.
 */
import { ApiError } from './errors.ts';

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
