import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** Where a service account's token is mounted in a pod. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * No cluster configured at all: no path, not in a pod, no `KUBECONFIG`, no `~/.kube/config`.
 * The one outcome `npm start` answers with a local cluster (local-cluster.ts); every other
 * failure (a missing file named, a pod without a token) stays an error.
 */
export class NoClusterConfiguredError extends Error {
  override readonly name = 'NoClusterConfiguredError';
}

/**
 * Loads credentials, in this order: an explicit path; the in-cluster service account when
 * running in a pod (`KUBERNETES_SERVICE_HOST` set and a token mounted); `KUBECONFIG` (several
 * colon-separated files are merged); `~/.kube/config`. Anything else is an error, and
 * NoClusterConfiguredError outside a pod.
 *
 * Not client-node's `loadFromDefault` alone: it prefers files over the service account (a
 * stray kubeconfig baked into an image would win) and, finding nothing, silently falls back
 * to `http://localhost:8080`.
 */
export function loadKubeConfig(
  options: { kubeconfigPath?: string; env?: NodeJS.ProcessEnv; home?: string } = {},
): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  const envPaths = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  const homeConfig = join(options.home ?? homedir(), '.kube', 'config');
  if (options.kubeconfigPath) {
    kc.loadFromFile(options.kubeconfigPath);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else if (envPaths.length > 0) {
    const existing = envPaths.filter((p) => existsSync(p));
    if (existing.length === 0) throw new Error(`KUBECONFIG names no existing file: ${envPaths.join(', ')}`);
    kc.loadFromFile(existing[0]!);
    for (const more of existing.slice(1)) {
      const extra = new KubeConfig();
      extra.loadFromFile(more);
      kc.mergeConfig(extra, true);
    }
  } else if (existsSync(homeConfig)) {
    kc.loadFromFile(homeConfig);
  } else if (env.KUBERNETES_SERVICE_HOST) {
    throw new Error(
      `In a pod (KUBERNETES_SERVICE_HOST is set) but no service account token at ${SERVICE_ACCOUNT_TOKEN}, nor KUBECONFIG or ~/.kube/config`,
    );
  } else {
    throw new NoClusterConfiguredError(
      'No Kubernetes credentials found: run in a pod with a service account, or set KUBECONFIG or --kubeconfig, or create ~/.kube/config',
    );
  }
  if (!kc.getCurrentCluster())
    throw new Error('The kubeconfig has no current context with a cluster: set current-context');
  return kc;
}
