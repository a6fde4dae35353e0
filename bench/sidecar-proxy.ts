/**
 * Benchmark: what the sidecar costs in front of vLLM, against nginx and against nothing.
 *
 * One run starts the vLLM-compatible stub, the real sidecar entry point (auth on, logs on, the
 * full preparer), nginx as a plain pass-through, and a bare Node proxy (the runtime's floor), all
 * on 127.0.0.1, then drives each with wrk:
 *   - latency: 1 connection, so the percentiles are the proxy's own cost, not queueing;
 *   - throughput: N connections, requests per second.
 * for small non-stream requests and for SSE streams (16 chunks). Added latency is the target's
 * p50/p99 minus the stub's own, measured in the same run; "proxy CPU/req" is the CPU time the
 * proxy process used per request under load (from /proc), which is less sensitive to the rest of
 * the machine than requests/s. Targets: the sidecar adds < 1 ms at p50; its CPU per request is at
 * most 1.5x the bare Node floor's (node:http + undici, no checks) in the same run; one core at
 * that CPU per request serves at least 10x what one H100 serves (H100_REQUESTS_PER_SECOND).
 * nginx is reported beside them for reference.
 *
 *   npm run bench:sidecar   (needs `apt-get install -y nginx wrk`)
 * Env: BENCH_SECONDS (per throughput run, default 2), BENCH_LATENCY_SECONDS (default 1),
 * BENCH_ROUNDS (default 2, best kept), BENCH_CONNECTIONS (default 32),
 * BENCH_NGINX_WORKERS (default 1: the sidecar is one process, so nginx gets one worker too),
 * BENCH_NGINX_AUTO (1: add an `nginx (auto workers)` row, for information only: the ratios stay
 * against the one-worker nginx), BENCH_COMPARE_SIDECAR (path of another checkout's sidecar
 * main.ts: adds a `sidecar (compare)` row measured in the same interleaved rounds, for a
 * before/after on a noisy machine) with BENCH_COMPARE_NODE_FLAGS (its Node flags, default none).
 * The sidecar runs with the Node flags of the runtime image's `sidecar` entry point, read from
 * runtime-image/Dockerfile, and the NODE_OPTIONS and malloc settings the Deployment builder gives
 * the pod, so the bench measures what the pod runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { testTokenizer } from '../test/sidecar-limits/oracle.ts';
import { podSidecar } from '../test/sidecar-memory/pod.ts';
import { imageEntryNodeFlags } from './image-entry.ts';
import { benchKeyFile, cpuMs, freePort, sidecarBenchEnv, startStub, waitForHttp } from './processes.ts';
import { startNginx } from './sidecar-proxy-nginx.ts';
import { runWrk, type WrkResult } from './sidecar-proxy-wrk.ts';

const ROOT = new URL('..', import.meta.url).pathname;

/**
 * Requests per second one H100 serves for Pixtral-12B with vLLM, an upper bound: published vLLM
 * benchmarks give about 12,500 output tokens/s for an 8B model in bf16 on one H100 (Llama 3.1 8B,
 * third-party runs collected at morphllm.com/vllm-benchmarks, 2025-2026); decoding is bound by
 * memory bandwidth, so a 12B model makes about 8B/12B of that, ~8,300 tokens/s, which at 100
 * output tokens per request is ~83 requests/s. Pixtral's image prefill (up to 4,096 tokens an
 * image) only lowers it. Rounded up to 100.
 */
const H100_REQUESTS_PER_SECOND = 100;
const MODEL = 'mistral/pixtral-12b-2409:bf16';
const SECONDS = Math.max(1, Math.round(Number(process.env.BENCH_SECONDS ?? 2)));
const LATENCY_SECONDS = Math.max(1, Math.round(Number(process.env.BENCH_LATENCY_SECONDS ?? 1)));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const NGINX_WORKERS = Number(process.env.BENCH_NGINX_WORKERS ?? 1);
const NGINX_AUTO = process.env.BENCH_NGINX_AUTO === '1';
const COMPARE_SIDECAR = process.env.BENCH_COMPARE_SIDECAR;
const COMPARE_NODE_FLAGS = (process.env.BENCH_COMPARE_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/** The Node flags of the runtime image's `sidecar` command. */
const sidecarNodeFlags = (): string[] => imageEntryNodeFlags('runtime-image/Dockerfile', 'sidecar');

const children: ChildProcess[] = [];

async function startSidecar(
  upstream: string,
  hashFile: string,
  main = join(ROOT, 'runtime-image/src/sidecar/main.ts'),
  flags = sidecarNodeFlags(),
): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const pod = podSidecar().env;
  const child = spawn(process.execPath, [...flags, main], {
    // The pod's heap and malloc settings, as the Deployment builder gives them.
    env: {
      ...sidecarBenchEnv(port, upstream, hashFile),
      ...(pod.NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: pod.NODE_OPTIONS }),
      ...(pod.MALLOC_ARENA_MAX === undefined ? {} : { MALLOC_ARENA_MAX: pod.MALLOC_ARENA_MAX }),
      ...(pod.MALLOC_MMAP_THRESHOLD_ === undefined
        ? {}
        : { MALLOC_MMAP_THRESHOLD_: pod.MALLOC_MMAP_THRESHOLD_ }),
    },
    // Logs stay on (their cost is part of the measure) but go nowhere.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child);
  return { url, pid: child.pid as number };
}

async function startNodeFloor(upstream: string): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bench/sidecar-proxy-node-floor.ts')], {
    env: { ...process.env, PORT: String(port), UPSTREAM_URL: upstream },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(url, child, { anyStatus: true, timeoutMs: 15_000 });
  return { url, pid: child.pid as number };
}

function childPids(parent: number): number[] {
  try {
    return readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

interface Row {
  target: string;
  latency: WrkResult;
  load: WrkResult;
  /** CPU the proxy itself used per request under load, in µs (the stub's own for direct). */
  cpuPerRequestUs: number;
}

/** Each target's best round: highest throughput, lowest latencies, lowest CPU. */
function best(a: Row, b: Row): Row {
  return {
    target: a.target,
    load: a.load.requestsPerSecond >= b.load.requestsPerSecond ? a.load : b.load,
    latency: {
      ...a.latency,
      p50: Math.min(a.latency.p50, b.latency.p50),
      p99: Math.min(a.latency.p99, b.latency.p99),
    },
    cpuPerRequestUs: Math.min(a.cpuPerRequestUs, b.cpuPerRequestUs),
  };
}

const ms = (n: number): string => `${n.toFixed(3)} ms`;
const pct = (n: number): string => `${(n * 100).toFixed(0)}%`;

function table(title: string, rows: Row[]): { addedP50: number; vsNginx: number } {
  const find = (target: string): Row => rows.find((r) => r.target === target) as Row;
  const direct = find('stub (direct)');
  const nginx = find('nginx');
  const sidecar = find('sidecar');
  console.log(`\n${title}`);
  console.log(
    '| target | req/s | vs direct | vs nginx | proxy CPU/req | p50 | p99 | added p50 | added p99 |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const cpu =
      r === direct ? `(stub ${r.cpuPerRequestUs.toFixed(0)} µs)` : `${r.cpuPerRequestUs.toFixed(0)} µs`;
    console.log(
      `| ${r.target} | ${r.load.requestsPerSecond.toFixed(0)} | ${pct(r.load.requestsPerSecond / direct.load.requestsPerSecond)} | ${pct(r.load.requestsPerSecond / nginx.load.requestsPerSecond)} | ${cpu} | ${ms(r.latency.p50)} | ${ms(r.latency.p99)} | ${ms(r.latency.p50 - direct.latency.p50)} | ${ms(r.latency.p99 - direct.latency.p99)} |`,
    );
    const failures = r.load.failures + r.latency.failures;
    if (failures > 0) console.log(`  ! ${r.target}: ${failures} failed requests`);
  }
  console.log(budget(rows));
  return {
    addedP50: sidecar.latency.p50 - direct.latency.p50,
    vsNginx: sidecar.load.requestsPerSecond / nginx.load.requestsPerSecond,
  };
}

/**
 * The CPU a proxy may spend per request to reach 60% of nginx on this machine, whatever its number
 * of processes: all cores, divided by the request rate, minus what the stub and wrk need.
 */
function budget(rows: Row[]): string {
  const find = (target: string): Row => rows.find((r) => r.target === target) as Row;
  const nginx = find('nginx');
  const cores = availableParallelism();
  const perRequestUs = (cores * 1e6) / (0.6 * nginx.load.requestsPerSecond);
  const stubUs = find('stub (direct)').cpuPerRequestUs;
  const wrkUs = ((nginx.load.wrkCpuMs ?? 0) * 1000) / Math.max(1, nginx.load.requests);
  const us = (n: number): string => `${n.toFixed(0)} µs`;
  return (
    `CPU budget at 60% of nginx: ${cores} cores / (0.6 × ${nginx.load.requestsPerSecond.toFixed(0)} req/s) = ` +
    `${us(perRequestUs)} per request; stub ${us(stubUs)}, wrk ${us(wrkUs)} → the proxy may use ` +
    `${us(perRequestUs - stubUs - wrkUs)}; the bare Node floor uses ${us(find('bare Node proxy (floor)').cpuPerRequestUs)}, ` +
    `the sidecar ${us(find('sidecar').cpuPerRequestUs)}`
  );
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-sidecar-'));
  const { key, hashFile } = benchKeyFile(scratch);
  let stopNginx = async (): Promise<void> => {};
  // main.ts loads the model's tokenizer at start; this puts the test copy in place.
  await testTokenizer();
  try {
    const stub = await startStub(children);
    const sidecar = await startSidecar(stub.url, hashFile);
    const nginx = await startNginx({
      dir: join(scratch, 'nginx'),
      port: await freePort(),
      upstreamPort: stub.port,
      workers: NGINX_WORKERS,
    });
    stopNginx = nginx.stop;
    const floor = await startNodeFloor(stub.url);
    const pidsOf = (n: { process: ChildProcess }): number[] => [
      n.process.pid as number,
      ...childPids(n.process.pid as number),
    ];
    const targets = [
      { target: 'stub (direct)', url: stub.url, pids: [stub.pid] },
      { target: 'nginx', url: nginx.url, pids: pidsOf(nginx) },
      { target: 'bare Node proxy (floor)', url: floor.url, pids: [floor.pid] },
      { target: 'sidecar', url: sidecar.url, pids: [sidecar.pid] },
    ];
    if (NGINX_AUTO) {
      const auto = await startNginx({
        dir: join(scratch, 'nginx-auto'),
        port: await freePort(),
        upstreamPort: stub.port,
        workers: 'auto',
      });
      const previous = stopNginx;
      stopNginx = async () => {
        await previous();
        await auto.stop();
      };
      targets.splice(2, 0, { target: 'nginx (auto workers)', url: auto.url, pids: pidsOf(auto) });
    }
    if (COMPARE_SIDECAR !== undefined) {
      const other = await startSidecar(stub.url, hashFile, COMPARE_SIDECAR, COMPARE_NODE_FLAGS);
      targets.push({ target: 'sidecar (compare)', url: other.url, pids: [other.pid] });
    }
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    const cases = [
      {
        title: 'Small non-stream requests (8 tokens)',
        body: {
          model: MODEL,
          messages: [{ role: 'user', content: 'Describe this picture in one line.' }],
          max_tokens: 8,
        },
      },
      {
        title: 'SSE streams (16 chunks, usage included)',
        body: {
          model: MODEL,
          messages: [{ role: 'user', content: 'Describe this picture in one line.' }],
          max_tokens: 16,
          stream: true,
          stream_options: { include_usage: true },
        },
      },
    ];
    console.log(
      `sidecar-proxy benchmark: wrk 1 thread; latency at 1 connection for ${LATENCY_SECONDS} s, throughput at ${CONNECTIONS} connections for ${SECONDS} s; best of ${ROUNDS} interleaved rounds; nginx workers: ${NGINX_WORKERS}; sidecar Node flags: ${sidecarNodeFlags().join(' ') || '(none)'}, NODE_OPTIONS: ${podSidecar().env.NODE_OPTIONS ?? '(none)'}`,
    );
    const verdicts: string[] = [];
    for (const c of cases) {
      const body = JSON.stringify(c.body);
      const rows: Row[] = [];
      // Rounds interleave the targets and keep each one's best figures, so a burst of load
      // from elsewhere on the machine does not decide the comparison.
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of targets) {
          const url = `${t.url}/v1/chat/completions`;
          if (round === 0)
            await runWrk({ url, body, headers, connections: CONNECTIONS, seconds: 1 }, scratch); // warm-up
          const latency = await runWrk(
            { url, body, headers, connections: 1, seconds: LATENCY_SECONDS },
            scratch,
          );
          const cpuBefore = cpuMs(t.pids);
          const load = await runWrk(
            { url, body, headers, connections: CONNECTIONS, seconds: SECONDS },
            scratch,
          );
          const cpuPerRequestUs = ((cpuMs(t.pids) - cpuBefore) * 1000) / Math.max(1, load.requests);
          const row: Row = { target: t.target, latency, load, cpuPerRequestUs };
          const previous = rows.find((r) => r.target === t.target);
          if (previous === undefined) rows.push(row);
          else Object.assign(previous, best(previous, row));
        }
      }
      const { addedP50, vsNginx } = table(c.title, rows);
      const cpuOf = (target: string): number =>
        (rows.find((r) => r.target === target) as Row).cpuPerRequestUs;
      const vsFloor = cpuOf('sidecar') / cpuOf('bare Node proxy (floor)');
      const perCore = 1e6 / cpuOf('sidecar');
      verdicts.push(
        `${c.title}: sidecar adds ${ms(addedP50)} at p50 (target < 1 ms: ${addedP50 < 1 ? 'met' : 'MISSED'}); ` +
          `CPU per request ${vsFloor.toFixed(2)}x the bare Node floor's (target <= 1.5x: ${vsFloor <= 1.5 ? 'met' : 'MISSED'}); ` +
          `one core sustains ${perCore.toFixed(0)} req/s, ${(perCore / H100_REQUESTS_PER_SECOND).toFixed(0)}x one H100's ${H100_REQUESTS_PER_SECOND} req/s (target >= 10x: ${perCore >= 10 * H100_REQUESTS_PER_SECOND ? 'met' : 'MISSED'}); ` +
          `${pct(vsNginx)} of one-worker nginx's throughput (for reference)`,
      );
    }
    console.log(`\n${verdicts.join('\n')}`);
  } finally {
    await stopNginx();
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  process.exit(1);
});
