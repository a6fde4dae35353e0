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
  /** Its folder (certificates, data, logs, pid files); removed by stop(). */
  dir: string;
  kubeconfigPath: string;
  /** The kubectl binary of the pinned version. */
  kubectl: string;
  /** Stops every process of the cluster and removes its folder. */
  stop(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The cluster to run against: the one `loadKubeConfig` finds or, when it finds none configured,
 * `{ local: true }` (start a local one). `PIXTRAL_LOCAL_CLUSTER=true` forces the local cluster,
 * `false` forbids it.
 */
export function chooseCluster(
  kubeconfigPath: string,
  env: NodeJS.ProcessEnv = process.env,
): { kubeConfig: KubeConfig } | { local: true } {
  if (env.PIXTRAL_LOCAL_CLUSTER !== 'true') {
    try {
      return { kubeConfig: loadKubeConfig({ kubeconfigPath: kubeconfigPath || undefined, env }) };
    } catch (error) {
      if (env.PIXTRAL_LOCAL_CLUSTER === 'false' || !(error instanceof NoClusterConfiguredError)) throw error;
    }
  }
  return { local: true };
}

/**
 * Starts the embedded control plane, installs the CRDs, creates simulated GPU nodes (2 x H100,
 * 1 x H100-2) and, unless `sample` is false, applies the minimal sample PixtralDeployment. Logs a
 * line per step, and every 30 s while the Kubernetes binaries are built the first time.
 */
export async function startLocalCluster(
  log: Logger,
  options: { sample?: boolean } = {},
): Promise<LocalCluster> {
  const harness = await import('../../test/harness/index.ts');
  const { locateBinaries } = await import('../../test/harness/binaries.ts');
  const { missing } = locateBinaries();
  if (missing.length > 0) {
    const started = Date.now();
    log.info(
      { missing },
      'First run: building the Kubernetes binaries from source into the per-user cache (about 8 min on 2 cores; later runs start at once)',
    );
    const ticker = setInterval(
      () =>
        log.info(
          `Still building the Kubernetes binaries (${Math.round((Date.now() - started) / 60_000)} min so far)`,
        ),
      30_000,
    );
    try {
      await harness.findBinaries();
    } finally {
      clearInterval(ticker);
    }
    log.info(`Built the Kubernetes binaries in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  log.info('Starting a local Kubernetes control plane on 127.0.0.1 (kwok simulates the GPU nodes)');
  const crd = join(ROOT, 'crds', 'inference.pixtral.dev_pixtraldeployments.yaml');
  const cp = await harness.startControlPlane({
    full: true,
    crds: [crd],
    progress: (message) => log.info(`Control plane: ${message}`),
  });
  try {
    log.info({ kubeconfig: cp.kubeconfigPath, server: cp.apiServerUrl }, 'Started the local control plane');
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
    return {
      kubeConfig: kc,
      dir: cp.dir,
      kubeconfigPath: cp.kubeconfigPath,
      kubectl: cp.bins.kubectl,
      stop: () => cp.stop(),
    };
  } catch (error) {
    await cp.stop();
    throw error;
  }
}
