/**
 * Typed errors (docs/conventions.md#errors): each says whether a retry can help. The work queue retries
 * `transient` failures with backoff and drops `terminal` ones after they are reported.
 */

/** Whether retrying the same operation can succeed. */
export type RetryClass = 'transient' | 'terminal';

/** The object an error is about, for messages and logs. */
export interface ResourceRef {
  kind: string;
  namespace?: string;
  name: string;
}

/** Formats `Kind namespace/name` (or `Kind name` for cluster-scoped objects). */
export function describeResource(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/**
 * A failed Kubernetes API request. `code` is the HTTP status (0 when no response arrived: a
 * refused connection, a reset, a timeout). 409, 429, 5xx and network errors are transient.
 */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly code: number;
  readonly reason: string;
  readonly verb: string;
  readonly path: string;
  readonly retry: RetryClass;
  /** The API server's own message (its Status `message`), without the request line. */
  readonly detail: string;

  constructor(
    init: { code: number; reason: string; verb: string; path: string; message: string },
    options?: ErrorOptions,
  ) {
    super(
      `${init.verb.toUpperCase()} ${init.path} failed (${init.code || 'no response'} ${init.reason}): ${init.message}`,
      options,
    );
    this.code = init.code;
    this.reason = init.reason;
    this.verb = init.verb;
    this.path = init.path;
    this.detail = init.message;
    this.retry =
      init.code === 0 || init.code === 409 || init.code === 429 || init.code >= 500
        ? 'transient'
        : 'terminal';
  }
}

/** True when `err` is an `KubeApiError` with one of the given HTTP status codes. */
export function isKubeApiError(err: unknown, ...codes: number[]): err is KubeApiError {
  return err instanceof KubeApiError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * A reconcile failure with its context. Throw it from a reconciler: `transient` ones are
 * retried with per-key backoff, `terminal` ones are logged and not retried (the reconciler
 * should have surfaced them as a condition and an Event first).
 */
export class ReconcileError extends Error {
  override readonly name = 'ReconcileError';
  readonly code: string;
  readonly resource: ResourceRef;
  readonly retry: RetryClass;

  constructor(
    code: string,
    resource: ResourceRef,
    retry: RetryClass,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.resource = resource;
    this.retry = retry;
  }
}

/** Whether an error thrown by a reconciler should be retried (unknown errors are, to be safe). */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ReconcileError || err instanceof KubeApiError) return err.retry === 'transient';
  return true;
}
