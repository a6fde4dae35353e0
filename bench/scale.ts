/**
 * Scale benchmark: N custom resources on M kwok GPU nodes over some namespaces, on the harness's
 * full control plane (etcd, kube-apiserver with an audit log, kube-controller-manager,
 * kube-scheduler, kwok), with the operator as its own process (bundled as the image runs it,
 * leader election on, 4 workers) and optionally KubeAI's manager as its peer on
 * the same control plane afterwards. Reports, per controller: time to all Ready (and p50/p99 of
 * each resource's own time from creation to Ready), its peak RSS and CPU, the control plane's CPU
 * per component (what bounds the run), its API requests by verb and resource from the audit log,
 * and its writes during a quiet window after all are Ready (steady state should write nothing).
 *
 *   npm run bench:scale                                   N=100 on 60 nodes, 10 namespaces (~3 min)
 *   BENCH_N=1000 BENCH_NODES=520 npm run bench:scale      ~10 min
 *   BENCH_N=10000 BENCH_NODES=2000 BENCH_TIMEOUT_S=1800 npm run bench:scale
 *                                                         the control plane on 2 cores is the limit
 *   BENCH_PEER=kubeai npm run bench:scale                 KubeAI v0.22.1 after ours, same N
 *     (needs `scripts/build-kubeai.sh <clone of its repository>` once; its binary is cached)
 *
 * Environment: BENCH_N (100), BENCH_NODES (N/2 + 10, at most 2000), BENCH_NAMESPACES (10),
 * BENCH_TIMEOUT_S (time to all Ready before giving up: 120 + 0.6 s per resource), BENCH_QUIET_S
 * (the steady-state window, 30), BENCH_PEER (kubeai; kubeai-only runs KubeAI alone),
 * BENCH_KUBEAI_DIR (the built binary's folder, default the cache's), BENCH_OPERATOR_NODE_OPTIONS
 * (the operator's NODE_OPTIONS; default the chart's `nodeOptions`, empty for Node's defaults),
 * BENCH_OPERATOR_NODE_FLAGS (its Node command-line flags; default those of the image's entry point),
 * BENCH_OPERATOR (`bundle`, as the image runs it, or `sources`: `operator/src/main.ts`),
 * BENCH_RESTART (0: do not restart the operator after the quiet window), BENCH_JSON (a file to
 * write the results to). See docs/scale.md.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Informer, KubeClient, keyString } from '../operator/src/runtime/index.ts';
import { bundleOperator } from '../scripts/bundle-operator.ts';
import { freshNamespace } from '../test/harness/index.ts';
import { type ClientTally, formatTally, tallyAudit } from './scale/audit.ts';
import { inBatches, type ScaleCluster, startScaleCluster } from './scale/cluster.ts';
import { ProcSampler } from './scale/procfs.ts';
import {
  kubeaiSubject,
  operatorImageEnv,
  operatorNodeFlags,
  operatorNodeOptions,
  pixtralSubject,
  type Subject,
} from './scale/subjects.ts';

const ROOT = join(import.meta.dirname, '..');
const env = process.env;
const N = Number(env.BENCH_N ?? 100);
const NODES = Number(env.BENCH_NODES ?? Math.min(2000, Math.ceil(N / 2) + 10));
const NAMESPACES = Math.max(1, Math.min(Number(env.BENCH_NAMESPACES ?? 10), N));
const TIMEOUT_MS = Number(env.BENCH_TIMEOUT_S ?? 120 + 0.6 * N) * 1000;
const QUIET_MS = Number(env.BENCH_QUIET_S ?? 30) * 1000;
/** Restart this operator after the quiet window: what an upgrade or a new leader costs at N. */
const RESTART = env.BENCH_RESTART !== '0';
const PEER = env.BENCH_PEER ?? '';
const OPERATOR_FROM = env.BENCH_OPERATOR ?? 'bundle';
const KUBEAI_DIR =
  env.BENCH_KUBEAI_DIR ??
  join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pixtral-operator/kubeai/kubeai-v0.22.1');
const COMPONENTS = ['kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok'];
const SHORT: Record<string, string> = {
  'kube-apiserver': 'apiserver',
  etcd: 'etcd',
  'kube-controller-manager': 'kcm',
  'kube-scheduler': 'scheduler',
  kwok: 'kwok',
};

const started = Date.now();
const SCRAPE_INTERVAL_MS = 15_000;
function say(message: string): void {
  const clock = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[scale ${clock} +${Math.round((Date.now() - started) / 1000)}s] ${message}\n`);
}
const mb = (bytes: number) => Math.round(bytes / 1048576);
const s = (ms: number) => (ms / 1000).toFixed(1);

/** What one controller's run measured. */
interface SubjectResult {
  name: string;
  n: number;
  ready: number;
  allReadyMs: number | undefined;
  firstReadyMs: number | undefined;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  wallMs: number;
  peakRssBytes: number;
  /** Peak V8 heap in use and reserved, from the operator's own metrics (this operator only). */
  peakHeap?: { usedBytes: number; totalBytes: number; externalBytes: number };
  /** The slowest scrape of its /metrics (this operator only). */
  slowestScrapeMs?: number;
  /** Reconciles, their mean time and work-queue adds over the run (this operator only). */
  queue?: { reconciles: number; meanReconcileMs: number; adds: number };
  cpuMs: number;
  components: Record<string, { cpuMs: number; peakRssBytes: number }>;
  requests: ClientTally | undefined;
  quiet: { ms: number; writes: number; requests: ClientTally | undefined; cpuMs: number };
  /** The operator started again over its N Ready deployments (this operator only). */
  restart?: Restart;
}

/** What a restart over N Ready deployments cost: until it was idle again, and what it wrote. */
interface Restart {
  /** From the start of the process until it led, had reconciled every root and was idle. */
  idleMs: number;
  /** Reconciles it ran until then (at least one per root). */
  reconciles: number;
  peakRssBytes: number;
  cpuMs: number;
  requests: ClientTally | undefined;
}

/** What the operator's own /metrics say: Node's heap gauges and its work queue and reconciles. */
interface OperatorGauges {
  /** How long the scrape took: the per-deployment gauges make it grow with N. */
  scrapeMs: number;
  usedBytes: number;
  totalBytes: number;
  externalBytes: number;
  queueDepth: number;
  /** Reconciles running at the scrape. */
  activeWorkers: number;
  queueAdds: number;
  reconciles: number;
  reconcileSeconds: number;
}

async function operatorGauges(url: string): Promise<OperatorGauges | undefined> {
  try {
    const began = performance.now();
    const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
    const scrapeMs = performance.now() - began;
    const sum = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'gm'))].reduce(
        (total, m) => total + Number(m[1]),
        0,
      );
    return {
      scrapeMs,
      usedBytes: sum('nodejs_heap_size_used_bytes'),
      totalBytes: sum('nodejs_heap_size_total_bytes'),
      externalBytes: sum('nodejs_external_memory_bytes'),
      queueDepth: sum('workqueue_depth'),
      activeWorkers: sum('controller_runtime_active_workers'),
      queueAdds: sum('workqueue_adds_total'),
      reconciles: sum('controller_runtime_reconcile_time_seconds_count'),
      reconcileSeconds: sum('controller_runtime_reconcile_time_seconds_sum'),
    };
  } catch {
    return undefined;
  }
}

function percentile(sorted: number[], p: number): number | undefined {
  if (!sorted.length) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The last `lines` lines of a log file. */
function logTail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (err) {
    return `(cannot read ${path}: ${(err as Error).message})`;
  }
}

/** The controllers running now: Ctrl-C stops them before the control plane. */
const running = new Set<ChildProcess>();

/** Stops a child: SIGTERM, then SIGKILL after 15 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function runSubject(
  cluster: ScaleCluster,
  subject: Subject,
  sampler: ProcSampler,
): Promise<SubjectResult> {
  const logPath = join(cluster.cp.dir, 'logs', `${subject.name}.log`);
  say(`${subject.name}: starting (log ${logPath})`);
  const child = await subject.start(logPath);
  // The harness's watchdog kills what its folder records if this process dies.
  writeFileSync(join(cluster.cp.dir, `${subject.name}.pid`), `${child.pid}\n`);
  let exited = false;
  let stopping = false;
  running.add(child);
  child.once('exit', (code, signal) => {
    running.delete(child);
    exited = true;
    say(`${subject.name} exited (${code ?? signal})`);
    // The run's folder goes at the end: what the controller said before it died must be shown now.
    if (!stopping) say(`${subject.name}'s last log lines:\n${logTail(logPath, 30)}`);
  });
  sampler.add(subject.name, child.pid as number);
  // Let it load its caches and take the lease before the clock starts.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  if (exited) throw new Error(`${subject.name} exited at start; see ${logPath}`);

  const watcher = new Informer({
    client: new KubeClient({ kubeConfig: cluster.kc, userAgent: 'scale-bench' }),
    kind: subject.kind,
  });
  const abort = new AbortController();
  const watching = watcher.run(abort.signal);
  await watcher.whenSynced();
  const createdAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const observe = (object: KubernetesObject) => {
    const key = keyString({ namespace: object.metadata?.namespace ?? '', name: object.metadata?.name ?? '' });
    if (!readyAt.has(key) && subject.isReady(object)) readyAt.set(key, Date.now());
  };
  watcher.subscribe((event) => {
    if (event.type === 'add' || event.type === 'update') observe(event.object);
  });

  sampler.mark();
  const t0 = Date.now();
  let created = 0;
  let lastLine = 0;
  let last = { at: t0, cpu: new Map<string, number>() };
  let gauges: OperatorGauges | undefined;
  const progress = () => {
    const now = Date.now();
    const cores = (name: string) => {
      const cpu = sampler.stats(name).cpuMs;
      const used = (cpu - (last.cpu.get(name) ?? 0)) / Math.max(1, now - last.at);
      return used.toFixed(2);
    };
    const parts = COMPONENTS.map((c) => `${SHORT[c]} ${cores(c)}`).join(', ');
    const queue = gauges
      ? `, queue ${gauges.queueDepth}, ${gauges.reconciles} reconciles (${gauges.reconciles ? ((1000 * gauges.reconcileSeconds) / gauges.reconciles).toFixed(0) : 0} ms mean)`
      : '';
    say(
      `${subject.name}: created ${created}/${N}, Ready ${readyAt.size}/${N} | ${subject.name} ${mb(sampler.stats(subject.name).lastRssBytes)} MB, ${cores(subject.name)} cores${queue} | ${parts} cores`,
    );
    last = { at: now, cpu: new Map([subject.name, ...COMPONENTS].map((n) => [n, sampler.stats(n).cpuMs])) };
    lastLine = now;
  };
  let peakHeap: SubjectResult['peakHeap'];
  let lastScrape = 0;
  let slowestScrapeMs = 0;
  const readHeap = async () => {
    lastScrape = Date.now();
    const heap = subject.metricsUrl ? await operatorGauges(subject.metricsUrl) : undefined;
    if (!heap) return;
    gauges = heap;
    slowestScrapeMs = Math.max(slowestScrapeMs, heap.scrapeMs);
    peakHeap = {
      usedBytes: Math.max(peakHeap?.usedBytes ?? 0, heap.usedBytes),
      totalBytes: Math.max(peakHeap?.totalBytes ?? 0, heap.totalBytes),
      externalBytes: Math.max(peakHeap?.externalBytes ?? 0, heap.externalBytes),
    };
  };
  // Scraped as Prometheus would (every 15 s), not every second: at 3,000 deployments one scrape
  // of the per-deployment gauges costs the operator ~0.7 s of its event loop.
  const ticker = setInterval(() => {
    if (Date.now() - lastScrape >= SCRAPE_INTERVAL_MS) void readHeap();
    if (Date.now() - lastLine >= 5000) progress();
  }, 1000);
  try {
    const indexes = Array.from({ length: N }, (_, i) => i);
    await inBatches(indexes, 10, async (i) => {
      const namespace = subject.namespaces[i % subject.namespaces.length] as string;
      const name = await subject.create(i, namespace);
      createdAt.set(`${namespace}/${name}`, Date.now());
      created++;
    });
    say(`${subject.name}: all ${N} created after ${s(Date.now() - t0)} s`);
    while (readyAt.size < N && Date.now() - t0 < TIMEOUT_MS && !exited) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    clearInterval(ticker);
  }
  progress();
  const loadEnd = Date.now();
  const allReady = readyAt.size >= N;
  if (!allReady)
    say(`${subject.name}: ${readyAt.size}/${N} Ready when the ${s(TIMEOUT_MS)} s budget ran out`);
  const loadStats = sampler.stats(subject.name);
  const components = Object.fromEntries(
    COMPONENTS.map((c) => [
      c,
      { cpuMs: sampler.stats(c).cpuMs, peakRssBytes: sampler.stats(c).peakRssBytes },
    ]),
  );

  // Steady state: nothing changes, so a level-triggered controller should write nothing.
  let quietStart = Date.now();
  let quietCpu = 0;
  if (allReady && QUIET_MS > 0 && !exited) {
    // The last reconciles can still be writing what follows a Ready status (its Event): the
    // window starts once the operator says it is idle, so it sees steady state, not their tail.
    const idleAfterMs = subject.metricsUrl ? await untilIdle(subject.metricsUrl) : 0;
    say(
      `${subject.name}: all Ready${subject.metricsUrl ? `, idle ${s(idleAfterMs)} s later` : ''}; watching a quiet window of ${s(QUIET_MS)} s`,
    );
    sampler.mark();
    quietStart = Date.now();
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    quietCpu = sampler.stats(subject.name).cpuMs;
  }
  await readHeap();
  const quietEnd = Date.now();
  const quietPeak = sampler.stats(subject.name).peakRssBytes;
  abort.abort();
  await watching;
  // Only over a run that finished, by an operator that did not exit on its own.
  const restartable = RESTART && subject.metricsUrl !== undefined && allReady && !exited;
  stopping = true;
  await stopChild(child);
  const restart = restartable ? await restartSubject(cluster, subject, sampler, logPath) : undefined;

  const durations = [...readyAt].map(([key, at]) => at - (createdAt.get(key) ?? t0)).sort((a, b) => a - b);
  const readyTimes = [...readyAt.values()].sort((a, b) => a - b);
  const cp = cluster.cp;
  const load = await tallyAudit(cp.auditLogPath as string, t0, loadEnd);
  const quiet =
    quietEnd > quietStart ? await tallyAudit(cp.auditLogPath as string, quietStart, quietEnd) : new Map();
  const quietTally = quiet.get(subject.auditClient);
  return {
    name: subject.name,
    n: N,
    ready: readyAt.size,
    allReadyMs: allReady ? (readyTimes.at(-1) as number) - t0 : undefined,
    firstReadyMs: readyTimes.length ? (readyTimes[0] as number) - t0 : undefined,
    p50Ms: percentile(durations, 50),
    p99Ms: percentile(durations, 99),
    wallMs: loadEnd - t0,
    peakRssBytes: Math.max(loadStats.peakRssBytes, quietPeak),
    ...(peakHeap ? { peakHeap, slowestScrapeMs } : {}),
    ...(gauges
      ? {
          queue: {
            reconciles: gauges.reconciles,
            meanReconcileMs: gauges.reconciles ? (1000 * gauges.reconcileSeconds) / gauges.reconciles : 0,
            adds: gauges.queueAdds,
          },
        }
      : {}),
    cpuMs: loadStats.cpuMs,
    components,
    requests: load.get(subject.auditClient),
    quiet: {
      ms: quietEnd - quietStart,
      writes: quietTally?.writes ?? 0,
      requests: quietTally,
      cpuMs: quietCpu,
    },
    ...(restart ? { restart } : {}),
  };
}

/**
 * Starts the operator again over its N Ready deployments, as an upgrade or a new leader does:
 * it lists every cache, takes the lease and reconciles every root. Level-triggered over an
 * unchanged world, it should write nothing but its Lease.
 */
async function restartSubject(
  cluster: ScaleCluster,
  subject: Subject,
  sampler: ProcSampler,
  logPath: string,
): Promise<Restart> {
  const name = `${subject.name} (restarted)`;
  say(`${subject.name}: restarting over ${N} Ready deployments`);
  const began = Date.now();
  sampler.mark();
  const child = await subject.start(logPath);
  writeFileSync(join(cluster.cp.dir, `${subject.name}.pid`), `${child.pid}\n`);
  running.add(child);
  child.once('exit', () => running.delete(child));
  sampler.add(name, child.pid as number);
  const url = subject.metricsUrl as string;
  // Idle counts once it leads: before that no controller runs, and nothing is queued.
  while (Date.now() - began < TIMEOUT_MS && child.exitCode === null) {
    const text = await fetch(url, { signal: AbortSignal.timeout(10_000) }).then(
      (r) => r.text(),
      () => '',
    );
    if (/^leader_election_master_status 1$/m.test(text)) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await untilIdle(url, Math.max(0, TIMEOUT_MS - (Date.now() - began)));
  const idleMs = Date.now() - began;
  const reconciles = (await operatorGauges(url))?.reconciles ?? 0;
  const stats = sampler.stats(name);
  say(`${subject.name}: idle again ${s(idleMs)} s after its restart, ${mb(stats.peakRssBytes)} MB peak`);
  await stopChild(child);
  const tally = await tallyAudit(cluster.cp.auditLogPath as string, began, began + idleMs);
  return {
    idleMs,
    reconciles,
    peakRssBytes: stats.peakRssBytes,
    cpuMs: stats.cpuMs,
    requests: tally.get(subject.auditClient),
  };
}

/**
 * Waits until the operator's /metrics show nothing queued and no reconcile running at two
 * scrapes 1 s apart (keys waiting out a delay do not count: steady state has those), at most
 * `maxMs`; returns how long that took.
 */
async function untilIdle(url: string, maxMs = 60_000): Promise<number> {
  const began = Date.now();
  let idleScrapes = 0;
  while (idleScrapes < 2 && Date.now() - began < maxMs) {
    const gauges = await operatorGauges(url);
    idleScrapes = gauges && gauges.queueDepth === 0 && gauges.activeWorkers === 0 ? idleScrapes + 1 : 0;
    if (idleScrapes < 2) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return Date.now() - began;
}

/** Writes in the quiet window, Lease renewals (leader election) counted apart. */
function quietWrites(r: SubjectResult): string {
  const leases = r.quiet.requests?.byVerbResource.get('update leases') ?? 0;
  return `${r.quiet.writes - leases} (+${leases} Lease renewals)`;
}

function report(results: SubjectResult[]): string {
  const lines: string[] = [];
  lines.push(
    `N=${N} resources, M=${NODES} GPU nodes, ${NAMESPACES} namespaces (KubeAI: one namespace, its design)`,
  );
  lines.push('');
  lines.push(
    '| controller | all Ready | first Ready | p50 / p99 per resource | peak RSS | CPU | API server CPU (busy) | etcd / kcm / scheduler / kwok CPU | writes (per CR) | quiet-window writes |',
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const c = r.components;
    const api = c['kube-apiserver']?.cpuMs ?? 0;
    const allReady =
      r.allReadyMs !== undefined ? `${s(r.allReadyMs)} s` : `${r.ready}/${r.n} after ${s(r.wallMs)} s`;
    const pct = (p: number | undefined) => (p === undefined ? '—' : s(p));
    const writes = r.requests?.writes ?? 0;
    lines.push(
      `| ${r.name} | ${allReady} | ${r.firstReadyMs === undefined ? '—' : `${s(r.firstReadyMs)} s`} | ${pct(r.p50Ms)} / ${pct(r.p99Ms)} s | ${mb(r.peakRssBytes)} MB | ${s(r.cpuMs)} s | ${s(api)} s of ${s(r.wallMs)} s (${Math.round((100 * api) / r.wallMs)}%) | ${['etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok'].map((n) => s(c[n]?.cpuMs ?? 0)).join(' / ')} s | ${writes} (${(writes / r.n).toFixed(1)}) | ${quietWrites(r)} in ${s(r.quiet.ms)} s |`,
    );
  }
  const [ours, peer] = results;
  if (ours && peer && ours.allReadyMs !== undefined) {
    const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '—');
    lines.push('');
    lines.push(
      `ratios ${ours.name} / ${peer.name}: all Ready ${peer.allReadyMs !== undefined ? ratio(ours.allReadyMs, peer.allReadyMs) : `< ${ratio(ours.allReadyMs, peer.wallMs)} (peer unfinished)`}, p50 ${ratio(ours.p50Ms ?? 0, peer.p50Ms ?? 0)}, peak RSS ${ratio(ours.peakRssBytes, peer.peakRssBytes)}, CPU ${ratio(ours.cpuMs, peer.cpuMs)}`,
    );
  }
  for (const r of results) {
    if (r.peakHeap)
      lines.push(
        `${r.name}: peak V8 heap used ${mb(r.peakHeap.usedBytes)} MB of ${mb(r.peakHeap.totalBytes)} MB reserved, external ${mb(r.peakHeap.externalBytes)} MB (RSS ${mb(r.peakRssBytes)} MB); slowest /metrics scrape ${r.slowestScrapeMs?.toFixed(0)} ms`,
      );
    if (r.restart) {
      const leases = r.restart.requests?.byVerbResource.get('update leases') ?? 0;
      lines.push(
        `${r.name}: restarted over ${r.n} Ready: idle after ${s(r.restart.idleMs)} s and ${r.restart.reconciles} reconciles, peak RSS ${mb(r.restart.peakRssBytes)} MB, CPU ${s(r.restart.cpuMs)} s, ${r.restart.requests?.total ?? 0} requests, ${(r.restart.requests?.writes ?? 0) - leases} writes (+${leases} Lease renewals)`,
      );
      if (r.restart.requests) lines.push(formatTally(r.restart.requests));
    }
    if (r.queue)
      lines.push(
        `${r.name}: ${r.queue.reconciles} reconciles (${(r.queue.reconciles / r.n).toFixed(1)} per resource, ${r.queue.meanReconcileMs.toFixed(0)} ms mean), ${r.queue.adds} work-queue adds (${(r.queue.adds / r.n).toFixed(1)} per resource)`,
      );
  }
  for (const r of results) {
    lines.push('');
    lines.push(
      `${r.name}: API requests while loading (${r.requests?.total ?? 0}, ${r.requests?.writes ?? 0} writes):`,
    );
    if (r.requests) lines.push(formatTally(r.requests));
    if (r.quiet.requests) {
      lines.push(
        `${r.name}: requests in the quiet window (${r.quiet.requests.total}; CPU ${s(r.quiet.cpuMs)} s):`,
      );
      lines.push(formatTally(r.quiet.requests));
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (OPERATOR_FROM !== 'bundle' && OPERATOR_FROM !== 'sources')
    throw new Error(`BENCH_OPERATOR=${OPERATOR_FROM}: bundle (as the image runs it) or sources`);
  if (PEER && PEER !== 'kubeai' && PEER !== 'kubeai-only')
    throw new Error(`BENCH_PEER=${PEER}: the only peer is kubeai (or kubeai-only, without this operator)`);
  const withOurs = PEER !== 'kubeai-only';
  const withKubeai = PEER.startsWith('kubeai');
  const subjects = (withOurs ? 1 : 0) + (withKubeai ? 1 : 0);
  const gpusPerNode = Math.ceil((N * subjects) / NODES);
  if (withOurs)
    say(
      `operator from its ${OPERATOR_FROM === 'bundle' ? "image's bundle" : 'sources'}, Node flags: ${operatorNodeFlags().join(' ') || '(none)'}, NODE_OPTIONS: ${operatorNodeOptions() || "(none: Node's defaults)"}, the image's ${Object.entries(
        operatorImageEnv(),
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  say(
    `N=${N}, M=${NODES} nodes (${gpusPerNode} GPUs each), ${NAMESPACES} namespaces, budget ${s(TIMEOUT_MS)} s, quiet window ${s(QUIET_MS)} s${PEER ? `, peer ${PEER}` : ''}`,
  );
  const extraCrds = withKubeai ? [join(KUBEAI_DIR, 'kubeai.org_models.yaml')] : [];
  const cluster = await startScaleCluster({
    nodes: NODES,
    gpusPerNode,
    namespaces: NAMESPACES,
    extraCrds,
    say,
  });
  const sampler = new ProcSampler(1000);
  const results: SubjectResult[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      sampler.stop();
      await cluster.cp.stop();
    })());
  process.once('SIGINT', () => {
    say('interrupted; stopping the controllers and the control plane');
    void Promise.all([...running].map(stopChild))
      .then(stop)
      .then(() => process.exit(130));
  });
  try {
    for (const [name, pid] of cluster.componentPids) sampler.add(name, pid);
    const kubeconfigPath = cluster.cp.kubeconfigPath;
    if (withOurs) {
      const entry =
        OPERATOR_FROM === 'bundle'
          ? join(cluster.cp.dir, 'operator.mjs')
          : join(ROOT, 'operator/src/main.ts');
      if (OPERATOR_FROM === 'bundle') await bundleOperator(entry);
      const subject = pixtralSubject(cluster.kc, kubeconfigPath, cluster.namespaces, cluster.cp.dir, entry);
      results.push(await runSubject(cluster, subject, sampler));
    }
    if (withKubeai) {
      const namespace = await freshNamespace(cluster.kc, 'kubeai');
      const subject = await kubeaiSubject(cluster.kc, kubeconfigPath, namespace, KUBEAI_DIR, cluster.cp.dir);
      results.push(await runSubject(cluster, subject, sampler));
    }
  } finally {
    await stop();
  }
  const text = report(results);
  process.stdout.write(`${text}\n`);
  if (env.BENCH_JSON) {
    const plain = results.map((r) => ({
      ...r,
      requests: r.requests && Object.fromEntries(r.requests.byVerbResource),
      quiet: {
        ...r.quiet,
        requests: r.quiet.requests && Object.fromEntries(r.quiet.requests.byVerbResource),
      },
      restart: r.restart && {
        ...r.restart,
        requests: r.restart.requests && Object.fromEntries(r.restart.requests.byVerbResource),
      },
      nodes: NODES,
      namespaces: NAMESPACES,
    }));
    writeFileSync(env.BENCH_JSON, `${JSON.stringify(plain, null, 2)}\n`);
  }
}

await main();
