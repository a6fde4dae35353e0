/**
 * The operator process: `npm start` (or the image's entrypoint). Reads the runtime flags/env and
 * the operator configuration, runs against the given cluster, or, when none is given, against an
 * embedded local control plane with simulated GPU nodes (see local-cluster.ts).
 */
import { loadOperatorConfig } from './config.ts';
import { addPixtralController } from './controller.ts';
import { connectCluster } from './local-cluster.ts';
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
  const { kubeConfig, local } = await connectCluster(log, runtimeConfig.kubeconfig);
  try {
    const manager = new Manager({ config: runtimeConfig, log, kubeConfig });
    await addPixtralController(manager, operatorConfig);
    return await runUntilSignalled(manager);
  } finally {
    await local?.stop();
  }
}

process.exitCode = await main();
