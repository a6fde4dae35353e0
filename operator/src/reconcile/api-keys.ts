/** The API keys Secret a deployment's sidecars check requests against (through its hashes). */
import type { V1Secret } from '@kubernetes/client-node';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { apiKeysSecretName, GENERATED_KEY_ID, generatedApiKeysSecret } from '../builders/index.ts';
import { generateApiKey } from '../keys.ts';
import { Kinds } from '../kinds.ts';
import { isKubeApiError } from '../runtime/index.ts';
import type { ReconcilerDeps } from './deps.ts';
import { wrap } from './resource.ts';

/**
 * The user's API keys Secret data (base64 values), creating the Secret with one generated key
 * when it does not exist. Created, never applied: a key must be generated exactly once and never
 * overwritten, so a stale cache meeting "already exists" just reads the Secret that won.
 */
export async function ensureApiKeys(
  cr: PixtralDeployment,
  deps: Pick<ReconcilerDeps, 'caches' | 'client' | 'config' | 'events'>,
  signal: AbortSignal,
): Promise<Record<string, string>> {
  const name = apiKeysSecretName(cr);
  const namespace = cr.metadata.namespace!;
  let secret = deps.caches.secrets.get(namespace, name);
  if (!secret && cr.spec.apiKeys?.secretName) {
    // The user's own Secret carries none of our labels: its by-name cache, read directly until
    // that cache has loaded.
    const named = deps.caches.namedSecret(namespace, name);
    secret = named.synced
      ? named.get(namespace, name)
      : await deps.client.get<V1Secret>(Kinds.Secret, { namespace, name }, signal);
  }
  if (!secret) {
    const body = generatedApiKeysSecret(cr, generateApiKey());
    try {
      secret = await deps.client.create<V1Secret>(Kinds.Secret, body, {
        fieldManager: deps.config.fieldManager,
        signal,
      });
      await deps.events.record(
        cr,
        'Normal',
        'ApiKeyGenerated',
        'Create',
        `Generated an API key in Secret ${name}; print it with: kubectl get secret ${name} -n ${cr.metadata.namespace} -o go-template='{{index .data "${GENERATED_KEY_ID}" | base64decode}}'`,
      );
    } catch (err) {
      if (!isKubeApiError(err, 409))
        throw wrap(err, cr, `Creating Secret ${cr.metadata.namespace}/${name} failed`);
      secret = await deps.client.get<V1Secret>(
        Kinds.Secret,
        { namespace: cr.metadata.namespace!, name },
        signal,
      );
    }
  }
  return { ...(secret?.data ?? {}) };
}
