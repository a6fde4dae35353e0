import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { type Cluster, runKubectl } from './control-plane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    sharedCluster: {
      kubeconfigPath: string;
      apiServerUrl: string;
      bins: import('./binaries.ts').BinaryPaths;
    };
  }
}

/**
 * The suite-wide cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)
 * started once by vitest's globalSetup for the `cluster` test project. Nodes are cluster-wide, so
 * tests that need a cluster with no free GPUs start their own with startControlPlane.
 */
export function sharedControlPlane(): Cluster {
  const shared = inject('sharedCluster');
  if (!shared)
    throw new Error(
      'No shared cluster: run this test in the vitest "cluster" project (test/harness/global-setup.ts)',
    );
  return {
    ...shared,
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromFile(shared.kubeconfigPath);
      return kc;
    },
    kubectl: (args, options) => runKubectl(shared.bins.kubectl, shared.kubeconfigPath, args, options),
  };
}
