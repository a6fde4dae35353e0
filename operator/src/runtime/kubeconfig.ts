import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

/** Where a service account's token is mounted in a pod. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads credentials: an explicit path when given; else the in-cluster service account when
 * running in a pod (`KUBERNETES_SERVICE_HOST` set and a token mounted); else `KUBECONFIG`,
 * else `~/.kube/config`. client-node's `loadFromDefault` prefers files over the service
 * account, which would let a stray kubeconfig in an image win, hence the explicit order.
 */
export function loadKubeConfig(
  options: { kubeconfigPath?: string; env?: NodeJS.ProcessEnv } = {},
): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  if (options.kubeconfigPath) {
    kc.loadFromFile(options.kubeconfigPath);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(
      'No Kubernetes cluster configured: run in a pod, or set KUBECONFIG / --kubeconfig, or create ~/.kube/config',
    );
  }
  return kc;
}
