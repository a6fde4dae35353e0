/**
 * API key generation: the one non-pure piece of the API keys feature, kept apart so the builders
 * stay deterministic (the reconciler passes the generated key in).
 */
import { randomBytes } from 'node:crypto';

/** Prefix of every generated key, so leaked keys are recognisable (secret scanners, logs). */
export const API_KEY_PREFIX = 'pxd_';

/** A new API key: `pxd_` plus 256 bits from the OS CSPRNG, base64url (43 characters). */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}
