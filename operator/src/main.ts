/**
 * The operator process: `npm start` (or the image's entrypoint). Reads the runtime flags/env and
 * the operator configuration, runs against the given cluster, or, when none is given, in local
 * mode (local-mode.ts: an embedded control plane with simulated GPU nodes, and each Ready
 * deployment served on 127.0.0.1).
 */
import { loadOperatorConfig } from './config.ts';
import { addPixtralController } from './controller.ts';
import { chooseCluster } from './local-cluster.ts';
import {
  abortOnSignals,
  createProcessLogger,
  humanOutput,
  loadRuntimeConfig,
  Manager,
  runManager,
} from './runtime/index.ts';

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
  const log = createProcessLogger(runtimeConfig.logLevel, runtimeConfig.logFormat);
  // From the very start: a Ctrl-C while the local cluster starts still stops it cleanly.
  const shutdown = abortOnSignals(log);
  try {
    const cluster = chooseCluster(runtimeConfig.kubeconfig);
    if ('local' in cluster) {
      // Only local mode loads the test harness and the sidecar's sources (not in the image).
      const { runLocalMode } = await import('./local-mode.ts');
      return await runLocalMode({
        runtimeConfig,
        operatorConfig,
        log,
        signal: shutdown.signal,
        human: humanOutput(runtimeConfig.logFormat),
        sample: process.env.PIXTRAL_LOCAL_SAMPLE !== 'false',
      });
    }
    const manager = new Manager({ config: runtimeConfig, log, kubeConfig: cluster.kubeConfig });
    await addPixtralController(manager, operatorConfig);
    return await runManager(manager, shutdown.signal);
  } catch (error) {
    const err = error as Error & { code?: unknown };
    // Errors that say what to change are shown as they are; anything else with its stack.
    if (err.code === 'PortInUse') log.error(err.message);
    else log.fatal({ err }, err.message);
    return 1;
  }
  // The handlers stay until the process exits: a Ctrl-C pressed again during the drain must not
  // kill it halfway. (A signal handler does not keep the event loop alive.)
}

process.exitCode = await main();
