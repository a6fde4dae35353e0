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
  | 'CatalogMismatch'
  | 'DiskFull'
  | 'LockCompromised'
  | 'Interrupted';

/** The file a failure is about and, for a digest, what was expected and what came. */
export interface FailureDetail {
  file?: string | undefined;
  expected?: string | undefined;
  got?: string | undefined;
}

/** A failure with its reason and retry class; `message` is safe to log (no token, no signed URL). */
export class ProvisionError extends Error {
  readonly code: ProvisionErrorCode;
  readonly retry: 'transient' | 'terminal';
  /** Seconds the server asked us to wait (Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;
  readonly detail: FailureDetail;

  constructor(
    code: ProvisionErrorCode,
    retry: 'transient' | 'terminal',
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number | undefined; detail?: FailureDetail },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProvisionError';
    this.code = code;
    this.retry = retry;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.detail = options?.detail ?? (options?.cause instanceof ProvisionError ? options.cause.detail : {});
  }
}

/**
 * Exit codes, one per kind of outcome, so a Job's podFailurePolicy and the operator can tell them
 * apart without reading prose. The termination message (JSON, see `TerminationMessage`) says more.
 */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  badInput: 2,
  /** A file's bytes differ from the hub's id, or the catalog's digest from the hub's: retrying fetches the same bytes. */
  digest: 3,
  /** The hub refused the token. */
  unauthorized: 4,
  /** The repository, revision or a file does not exist. */
  notFound: 5,
  /** The volume is too small. */
  diskFull: 6,
  /** The network or the hub failed for longer than the retries: worth another run later. */
  transient: 7,
  interrupted: 143,
} as const;

/** The exit code for a failure. */
export function exitCodeOf(err: unknown): number {
  if (!(err instanceof ProvisionError)) return EXIT_CODES.internal;
  switch (err.code) {
    case 'BadSpec':
    case 'BadOptions':
      return EXIT_CODES.badInput;
    case 'DigestMismatch':
    case 'CatalogMismatch':
    case 'SizeMismatch':
      return EXIT_CODES.digest;
    case 'Unauthorized':
      return EXIT_CODES.unauthorized;
    case 'NotFound':
      return EXIT_CODES.notFound;
    case 'DiskFull':
      return EXIT_CODES.diskFull;
    case 'Interrupted':
      return EXIT_CODES.interrupted;
    case 'NetworkError':
    case 'HttpError':
    case 'ContentChanged':
    case 'LockCompromised':
      return EXIT_CODES.transient;
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
