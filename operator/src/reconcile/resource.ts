/** Small helpers about the PixtralDeployment being reconciled: its UUID and errors with its context. */
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { isKubeApiError, ReconcileError } from '../runtime/index.ts';

/** The CR's metadata.uid (set on anything read from the API server), also its status UUID. */
export function uidOf(cr: PixtralDeployment): string {
  return String(cr.metadata.uid ?? '');
}

/** The CR as errors name it. */
export function resource(cr: PixtralDeployment) {
  return { kind: 'PixtralDeployment', namespace: cr.metadata.namespace, name: cr.metadata.name ?? '' };
}

/** The API server's own message of a refused request (its Status message), else the error's. */
export function apiMessage(err: unknown): string {
  return isKubeApiError(err) ? `${err.detail} (${err.code} ${err.reason})` : String((err as Error).message);
}

/** A reconcile error for a failed write, transient unless the server called the request invalid. */
export function wrap(err: unknown, cr: PixtralDeployment, message: string): ReconcileError {
  const retry = isKubeApiError(err) && err.retry === 'terminal' ? 'terminal' : 'transient';
  return new ReconcileError('ApplyFailed', resource(cr), retry, `${message}: ${(err as Error).message}`, {
    cause: err,
  });
}
