/**
 * The operator's local mode: with no cluster given, `npm start` runs against an embedded control
 * plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) on 127.0.0.1 with
 * simulated H100 and H100-2 GPU nodes. It reuses the test harness (dynamically imported, so a
 * production image never loads it) and says what it is doing as it goes.
 */
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { loadKubeConfig, NoClusterConfiguredError } from './runtime/index.ts';

/** A running local cluster. */
export interface LocalCluster {
  kubeConfig: KubeConfig;
  stop(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The cluster to run against: the one `loadKubeConfig` finds or, when it finds none configured,
 * a local cluster (`local`, to stop at exit). `PIXTRAL_LOCAL_CLUSTER=true` forces the local
 * cluster, `false` forbids it.
 */
export async function connectCluster(
  log: Logger,
  kubeconfigPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ kubeConfig: KubeConfig; local?: LocalCluster }> {
  if (env.PIXTRAL_LOCAL_CLUSTER !== 'true') {
    try {
      return { kubeConfig: loadKubeConfig({ kubeconfigPath: kubeconfigPath || undefined, env }) };
    } catch (error) {
      if (env.PIXTRAL_LOCAL_CLUSTER === 'false' || !(error instanceof NoClusterConfiguredError)) throw error;
    }
  }
  const local = await startLocalCluster(log, { sample: env.PIXTRAL_LOCAL_SAMPLE !== 'false' });
  return { kubeConfig: local.kubeConfig, local };
}

/**
 * Starts the embedded control plane, installs the CRDs, creates simulated GPU nodes (2 x H100,
 * 1 x H100-2) and, unless `sample` is false, applies the minimal sample PixtralDeployment.
 */
export async function startLocalCluster(
  log: Logger,
  options: { sample?: boolean } = {},
): Promise<LocalCluster> {
  log.info(
    'No cluster given: starting a local control plane with simulated GPU nodes (first run builds the Kubernetes binaries)',
  );
  const harness = await import('../../test/harness/index.ts');
  const crd = join(ROOT, 'crds', 'inference.pixtral.dev_pixtraldeployments.yaml');
  const cp = await harness.startControlPlane({ full: true, verbose: false, crds: [crd] });
  try {
    log.info(
      { kubeconfig: cp.kubeconfigPath, server: cp.apiServerUrl },
      'Started local control plane with the PixtralDeployment CRD',
    );
    const kc = cp.kubeConfig();
    const nodes = [
      ...(await harness.createGpuNodes(kc, 'H100', 2, { prefix: 'h100' })),
      ...(await harness.createGpuNodes(kc, 'H100-2', 1, { prefix: 'h100x2' })),
      ...(await harness.createCpuNodes(kc, 1)),
    ];
    log.info({ nodes }, 'Created simulated nodes (GPU nodes for serving, a CPU node for weights Jobs)');
    // No storage provisioner runs locally: static volumes stand in for the weights caches.
    await harness.createVolumes(kc, 4);
    log.info('Created 4 static volumes for weights caches');
    if (options.sample !== false) {
      const sample = join(ROOT, 'crds', 'samples', 'minimal.yaml');
      const result = await cp.kubectl(['apply', '--server-side', '-n', 'default', '-f', sample]);
      if (result.code !== 0) throw new Error(`Applying ${sample} failed: ${result.stderr}`);
      log.info({ sample }, 'Applied the sample PixtralDeployment default/vision');
    }
    log.info(
      `Try: KUBECONFIG=${cp.kubeconfigPath} ${cp.bins.kubectl} get pxd -A -w   (Ctrl-C stops the operator and the local cluster)`,
    );
    return { kubeConfig: kc, stop: () => cp.stop() };
  } catch (error) {
    await cp.stop();
    throw error;
  }
}
