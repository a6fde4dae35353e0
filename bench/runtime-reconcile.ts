/**
 * Benchmark: the runtime (watch caches + work queue + skip-if-unchanged apply) against a naive
 * operator loop that lists the API server on every reconcile and applies unconditionally.
 * Both reconcile the same toy (ConfigMap toy=true → owned Secret) on a real control plane,
 * 4 concurrent workers each, first converging N new roots, then one steady-state pass over
 * all N already-converged roots. Prints reconciles per second and API requests per reconcile,
 * with ratios against the naive loop measured in the same run.
 *
 *   npm run bench:runtime            (BENCH_N=300 by default)
 */
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import {
  BuiltinKinds,
  Channel,
  createOperatorLogger,
  KubeClient,
  loadRuntimeConfig,
  Manager,
  RuntimeMetrics,
} from '../operator/src/runtime/index.ts';
import { freshNamespace, startControlPlane } from '../test/harness/index.ts';
import { inPool, Toys } from '../test/runtime/cluster.ts';
import { addToyController, desiredToyChild, toyChildName } from '../test/runtime/toy.ts';

const N = Number(process.env.BENCH_N ?? 300);
const WORKERS = 4;
if (!Number.isInteger(N) || N < 1 || N > 5000)
  throw new Error(`BENCH_N must be a whole number from 1 to 5000, got ${process.env.BENCH_N}`);

interface Row {
  name: string;
  reconciles: number;
  seconds: number;
  requests: number;
}

const cp = await startControlPlane({ verbose: false });
const rows: Row[] = [];
try {
  const toys = new Toys(cp);
  const names = Array.from({ length: N }, (_, i) => `r${i}`);

  // Baseline: list everything on every reconcile, apply without comparing.
  const naiveNs = await freshNamespace(cp.kubeConfig(), 'bench-naive');
  await inPool(names, 25, (n) => toys.createRoot(naiveNs, n, n));
  const naiveMetrics = new RuntimeMetrics();
  const naive = new KubeClient({ kubeConfig: cp.kubeConfig(), metrics: naiveMetrics });
  const naiveReconcile = async (name: string) => {
    const roots = await naive.list<V1ConfigMap>(BuiltinKinds.ConfigMap, {
      namespace: naiveNs,
      labelSelector: 'toy=true',
    });
    await naive.list<V1Secret>(BuiltinKinds.Secret, { namespace: naiveNs });
    const root = roots.items.find((r) => r.metadata?.name === name);
    if (!root) return;
    await naive.apply(
      BuiltinKinds.Secret,
      desiredToyChild({ ...root, apiVersion: 'v1', kind: 'ConfigMap' }),
      {
        fieldManager: 'naive',
        force: true,
      },
    );
  };
  for (const pass of ['initial convergence', 'steady-state pass']) {
    const before = await naiveMetrics.apiRequestCount();
    const started = performance.now();
    await inPool(names, WORKERS, naiveReconcile);
    rows.push({
      name: `naive list-every-time: ${pass}`,
      reconciles: N,
      seconds: (performance.now() - started) / 1000,
      requests: (await naiveMetrics.apiRequestCount()) - before,
    });
  }

  // The runtime, restricted to its own namespace.
  const ns = await freshNamespace(cp.kubeConfig(), 'bench-runtime');
  await inPool(names, 25, (n) => toys.createRoot(ns, n, n));
  const config = loadRuntimeConfig(
    [
      '--namespace',
      ns,
      '--leader-elect',
      'false',
      '--health-port',
      '0',
      '--health-host',
      '127.0.0.1',
      '--workers',
      String(WORKERS),
      '--resync-ms',
      '0',
    ],
    {},
  );
  const mgr = new Manager({
    config,
    kubeConfig: cp.kubeConfig(),
    log: createOperatorLogger('warn'),
    metrics: new RuntimeMetrics(),
  });
  const controller = addToyController(mgr, WORKERS);
  // The steady-state pass re-examines every root, as a resync would.
  const everyRoot = new Channel();
  controller.watch({ source: everyRoot, map: () => names.map((name) => ({ namespace: ns, name })) });
  const reconciles = async () =>
    (await mgr.metrics.reconcileTotal.get()).values.reduce((s, v) => s + v.value, 0);
  const secrets = mgr.cache<V1Secret>({
    ...BuiltinKinds.Secret,
    labelSelector: 'app.kubernetes.io/managed-by=pixtral-operator',
  });
  const stop = new AbortController();
  let started = performance.now();
  const running = mgr.start(stop.signal);
  await until(() => names.every((n) => secrets.get(ns, toyChildName(n))) && idle());
  rows.push({
    name: 'runtime: initial convergence',
    reconciles: await reconciles(),
    seconds: (performance.now() - started) / 1000,
    requests: await mgr.metrics.apiRequestCount(),
  });

  const reconcilesBefore = await reconciles();
  const requestsBefore = await mgr.metrics.apiRequestCount();
  started = performance.now();
  everyRoot.send();
  await until(async () => (await reconciles()) - reconcilesBefore >= N && idle());
  rows.push({
    name: 'runtime: steady-state pass',
    reconciles: (await reconciles()) - reconcilesBefore,
    seconds: (performance.now() - started) / 1000,
    requests: (await mgr.metrics.apiRequestCount()) - requestsBefore,
  });
  stop.abort();
  await running;

  function idle(): boolean {
    return controller.backlog === 0;
  }
} finally {
  await cp.stop();
}

print(rows);

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('benchmark did not converge within 5 minutes');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function print(table: Row[]): void {
  const baseline = (pass: string) => table.find((r) => r.name === `naive list-every-time: ${pass}`)!;
  console.log(`\nRuntime reconcile benchmark: ${N} toy roots, ${WORKERS} workers, real kube-apiserver\n`);
  console.log(
    [
      'scenario'.padEnd(44),
      'reconciles',
      'seconds',
      'rec/s',
      'API req',
      'req/rec',
      'rec/s vs naive',
      'req/rec vs naive',
    ].join(' | '),
  );
  for (const r of table) {
    const pass = r.name.split(': ')[1]!;
    const base = baseline(pass);
    const rate = r.reconciles / r.seconds;
    const perRec = r.requests / r.reconciles;
    const baseRate = base.reconciles / base.seconds;
    const basePerRec = base.requests / base.reconciles;
    console.log(
      [
        r.name.padEnd(44),
        String(r.reconciles).padStart(10),
        r.seconds.toFixed(2).padStart(7),
        rate.toFixed(0).padStart(5),
        String(r.requests).padStart(7),
        perRec.toFixed(3).padStart(7),
        `${(rate / baseRate).toFixed(2)}x`.padStart(14),
        `${(perRec / basePerRec).toFixed(3)}x`.padStart(16),
      ].join(' | '),
    );
  }
}
