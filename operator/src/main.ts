/**
 * The operator process: `npm start` (or the image's entrypoint). Reads the runtime flags/env and
 * the operator configuration, runs against the given cluster, or, when none is given, against an
 * embedded local control plane with simulated GPU nodes (see local-cluster.ts).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { loadOperatorConfig } from './config.ts';
import { addPixtralController } from './controller.ts';
import { clusterGiven, type LocalCluster, startLocalCluster } from './local-cluster.ts';
import { createLogger, loadRuntimeConfig, Manager, runUntilSignalled } from './runtime/index.ts';

async function main(): Promise<number> {
  let runtimeConfig: ReturnType<typeof loadRuntimeConfig>;
  let operatorConfig: ReturnType<typeof loadOperatorConfig>;
  try {
    runtimeConfig = loadRuntimeConfig();
    operatorConfig = loadOperatorConfig();
  } catch (error) {
    process.stderr.write(`pixtral-operator: ${(error as Error).message}\n`);
    return 2;
  }
  const log = createLogger(runtimeConfig.logLevel);
  let local: LocalCluster | undefined;
  let kubeConfig: KubeConfig | undefined;
  if (!clusterGiven(runtimeConfig.kubeconfig)) {
    local = await startLocalCluster(log, { sample: process.env.PIXTRAL_LOCAL_SAMPLE !== 'false' });
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(local.kubeconfigPath);
  }
  try {
    const manager = new Manager({ config: runtimeConfig, log, ...(kubeConfig ? { kubeConfig } : {}) });
    await addPixtralController(manager, operatorConfig);
    return await runUntilSignalled(manager);
  } finally {
    await local?.stop();
  }
}

process.exitCode = await main();
