/**
 * The operator as a child process of bench/secrets-cache.ts: starts the PixtralDeployment
 * controller against KUBECONFIG and reports on stdout, as one JSON line, when every cache has
 * loaded (ms since the process started) and its RSS then and 3 s later. With
 * BENCH_CACHE_ALL_SECRETS=1 it also caches every Secret of the cluster, as the operator did before
 * its Secret cache was label-selected: the baseline.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { defaultOperatorConfig } from '../operator/src/config.ts';
import { addPixtralController } from '../operator/src/controller.ts';
import {
  BuiltinKinds,
  createOperatorLogger,
  loadRuntimeConfig,
  Manager,
} from '../operator/src/runtime/index.ts';

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(process.env.KUBECONFIG ?? '');
const manager = new Manager({
  config: loadRuntimeConfig(['--health-port', '0', '--leader-elect', 'false', '--log-level', 'warn'], {}),
  kubeConfig,
  log: createOperatorLogger('warn'),
});
await addPixtralController(manager, defaultOperatorConfig({}));
if (process.env.BENCH_CACHE_ALL_SECRETS === '1') manager.cache(BuiltinKinds.Secret);
const abort = new AbortController();
const running = manager.start(abort.signal);
while (!manager.synced) await new Promise((resolve) => setTimeout(resolve, 20));
const syncedMs = performance.now();
const rssAtSync = process.memoryUsage().rss;
await new Promise((resolve) => setTimeout(resolve, 3000));
const rssSettled = process.memoryUsage().rss;
process.stdout.write(`${JSON.stringify({ syncedMs, rssAtSync, rssSettled })}\n`);
abort.abort();
await running;
