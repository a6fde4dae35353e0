/**
 * `npm start` with no cluster given: checks what it needs before starting anything (the
 * tokenizer file, the health port), starts the local cluster, runs the operator against it with
 * local serving beside it, and prints the Ready block once a deployment answers on 127.0.0.1.
 * On SIGINT/SIGTERM it stops in dependency order: the operator first (its Lease is released while
 * the API server still answers), then the serving processes, then the control plane.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { PixtralDeployment } from './api/pixtral-deployment.ts';
import type { OperatorConfig } from './config.ts';
import { addPixtralController } from './controller.ts';
import { Kinds, managed } from './kinds.ts';
import { type LocalCluster, startLocalCluster } from './local-cluster.ts';
import { assertPortsFree } from './local-ports.ts';
import { type LocalEndpoint, readyBlock } from './local-ready-block.ts';
import { LocalServing } from './local-serving.ts';
import { Manager, type RuntimeConfig, runManager } from './runtime/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** Where `scripts/setup.sh` puts the model's tokenizer file (tekken.json). */
export const LOCAL_TOKENIZER_DIR = join(ROOT, '.cache', 'tekken');

/** What WeightsReady says in local mode, where no weights are downloaded or checked. */
export const LOCAL_WEIGHTS_SOURCE = {
  reason: 'LocalStandIn',
  message:
    'Local mode: no weights were downloaded or verified. kwok completed the weights Job without running it; the local vLLM stand-in answers without a model, and the sidecar counts tokens with the tokenizer file in .cache/tekken',
};

/** Options of `runLocalMode`. */
export interface LocalModeOptions {
  runtimeConfig: RuntimeConfig;
  operatorConfig: OperatorConfig;
  log: Logger;
  /** Aborted by the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** Human output (the Ready block) rather than JSON lines only. */
  human: boolean;
  /** Apply the sample PixtralDeployment. Default true. */
  sample?: boolean;
}

/** Runs local mode until `signal` aborts; resolves the exit code. */
export async function runLocalMode(options: LocalModeOptions): Promise<number> {
  const { log, signal } = options;
  const tokenizer = join(LOCAL_TOKENIZER_DIR, 'tekken.json');
  if (!existsSync(tokenizer)) {
    log.error(
      `The model's tokenizer file ${tokenizer} is missing, and the local sidecar needs it to count tokens: run ./scripts/setup.sh first`,
    );
    return 2;
  }
  // Nothing outside this machine needs the health server of a local run.
  const runtimeConfig = {
    ...options.runtimeConfig,
    healthHost: options.runtimeConfig.healthHost ?? '127.0.0.1',
  };
  await assertPortsFree([
    {
      port: runtimeConfig.healthPort,
      host: runtimeConfig.healthHost,
      what: "the operator's health and metrics server",
      change: 'pass --health-port <port> (or PXD_HEALTH_PORT=<port>; 0 picks a free one)',
    },
  ]);

  const started = Date.now();
  let cluster: LocalCluster;
  try {
    cluster = await startLocalCluster(log, { sample: options.sample ?? true });
  } catch (error) {
    // Ctrl-C while the binaries build reaches the build too, which then fails: that is a stop.
    if (!signal.aborted) throw error;
    log.info('Stopped before the local cluster was up');
    return 0;
  }
  let serving: LocalServing | undefined;
  try {
    if (signal.aborted) return 0;
    const manager = new Manager({ config: runtimeConfig, log, kubeConfig: cluster.kubeConfig });
    await addPixtralController(manager, options.operatorConfig, { weightsSource: LOCAL_WEIGHTS_SOURCE });
    const watch = `KUBECONFIG=${cluster.kubeconfigPath} ${cluster.kubectl} get pxd -A`;
    serving = new LocalServing({
      client: manager.client,
      pixtralDeployments: manager.cache<PixtralDeployment>(Kinds.PixtralDeployment),
      deployments: manager.cache<V1Deployment>(Kinds.Deployment),
      managedSecrets: manager.cache<V1Secret>(managed(Kinds.Secret)),
      dir: cluster.dir,
      tokenizerDir: LOCAL_TOKENIZER_DIR,
      log,
      onServing: (endpoint: LocalEndpoint) => {
        const pxd = `${endpoint.namespace}/${endpoint.name}`;
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        if (options.human) {
          process.stdout.write(readyBlock({ ...endpoint, watchCommand: watch }));
          return;
        }
        // The JSON line carries no key (logs never do): the Secret it is in is named instead.
        log.info(
          { pxd, endpoint: endpoint.baseUrl, model: endpoint.model, keySecret: endpoint.keySecret, seconds },
          `${pxd} is Ready and serving at ${endpoint.baseUrl} (${seconds} s after start)`,
        );
      },
    });
    serving.start();
    log.info(`Watch the deployments with: ${watch}   (Ctrl-C stops everything)`);
    return await runManager(manager, signal);
  } finally {
    const stopping = Date.now();
    await serving?.stop();
    await cluster.stop();
    log.info(`Stopped the local sidecars, stand-ins and control plane in ${Date.now() - stopping} ms`);
  }
}
