/**
 * The provisioner's error catalogue. Every failure is a ProvisionError that says whether retrying
 * can help: network errors, 5xx, 408 and 429 are transient (retried with backoff, resuming where the
 * bytes stopped); a refused token, a missing file, a digest or size mismatch, a full disk and bad
 * input are terminal (the run stops, and the operator's Job backoff decides what happens next).
 */

/** Machine reason for a failure; also the `code` field of the last log line. */
export type ProvisionErrorCode =
  | 'BadSpec'
  | 'BadOptions'
  | 'Unauthorized'
  | 'NotFound'
  | 'HttpError'
  | 'NetworkError'
  | 'ContentChanged'
  | 'SizeMismatch'
  | 'DigestMismatch'
  | 'DiskFull'
  | 'LockCompromised'
  | 'Interrupted';

/** A failure with its reason and retry class; `message` is safe to log (no token, no signed URL). */
export class ProvisionError extends Error {
  readonly code: ProvisionErrorCode;
  readonly retry: 'transient' | 'terminal';
  /** Seconds the server asked us to wait (Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ProvisionErrorCode,
    retry: 'transient' | 'terminal',
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProvisionError';
    this.code = code;
    this.retry = retry;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

// Socket-level failures seen from undici and the kernel: all worth another attempt.
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_ABORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/**
 * Turns whatever a request or a body read threw into a ProvisionError: ProvisionErrors pass through,
 * socket errors become transient NetworkErrors naming `what`, anything else is rethrown untouched
 * (a programming error or a local I/O failure is not something a retry fixes).
 */
export function classifyError(err: unknown, what: string): unknown {
  if (err instanceof ProvisionError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    const detail = err instanceof Error ? err.message : String(err);
    return new ProvisionError('NetworkError', 'transient', `${what}: ${detail} (${code})`, { cause: err });
  }
  if (typeof code === 'string' && code === 'ENOSPC') {
    return new ProvisionError('DiskFull', 'terminal', `${what}: no space left on device`, { cause: err });
  }
  return err;
}

/** True when another attempt may succeed. */
export function isTransient(err: unknown): boolean {
  return err instanceof ProvisionError && err.retry === 'transient';
}
