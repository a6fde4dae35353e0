/**
 * Benchmark: the sidecar's memory and event loop under load, beside the bare Node floor
 * (node:http + undici, no checks) measured in the same run.
 *
 * - idle RSS with the real tokenizer loaded, and peak RSS (VmHWM) while 500 SSE streams are open
 *   at once; the sidecar runs with the environment, Node options and memory limit the operator's
 *   Deployment builder gives the pod (test/sidecar-memory/pod.ts);
 * - /health latency while a 4 MB text is refused for its length (probes every 2 ms during the
 *   refusal, after one refusal to warm up), against /health latency with nothing else running,
 *   and the refusal's own time.
 * Targets: idle <= 120 MB; 500 streams <= 200 MB; /health p99 < 50 ms during the refusal; the
 * refusal < 1 s.
 *
 *   npm run bench:sidecar:memory
 * Env: BENCH_STREAMS (default 500), BENCH_REFUSALS (default 5).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { testTokenizer } from '../test/sidecar-limits/oracle.ts';
import { podSidecar, startPodSidecar } from '../test/sidecar-memory/pod.ts';
import { startUpstreamStub } from '../test/upstream-stub/stub.ts';
import { freePort, waitForHttp } from './processes.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const MODEL = 'mistral/pixtral-12b-2409:bf16';
const STREAMS = Number(process.env.BENCH_STREAMS ?? 500);
const REFUSALS = Number(process.env.BENCH_REFUSALS ?? 5);
const MB = 1024 * 1024;

const statusOf = (pid: number, field: string): number => {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]) * 1024;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

/** Opens `count` streams at once through `url` and resolves once every one has its first chunk. */
async function openStreams(url: string, headers: Record<string, string>, count: number) {
  const dispatcher = new Agent({ connections: count + 8, pipelining: 1 });
  const body = JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: 'Describe the picture.' }],
    stream: true,
  });
  let failed = 0;
  const ends: Promise<void>[] = [];
  const firsts = Array.from(
    { length: count },
    () =>
      new Promise<void>((first) => {
        ends.push(
          request(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body,
            dispatcher,
          })
            .then(async (res) => {
              if (res.statusCode !== 200) failed++;
              for await (const _chunk of res.body) first();
              first();
            })
            .catch(() => {
              failed++;
              first();
            }),
        );
      }),
  );
  await Promise.all(firsts);
  return {
    failed: () => failed,
    done: async () => {
      await Promise.all(ends);
      await dispatcher.close();
    },
  };
}

/** Idle RSS and the peak RSS while `STREAMS` streams are open, for one proxy process. */
async function memoryRow(pid: number, url: string, headers: Record<string, string>) {
  await sleep(1_500);
  const idle = statusOf(pid, 'VmRSS');
  const streams = await openStreams(url, headers, STREAMS);
  await sleep(1_000);
  const peak = statusOf(pid, 'VmHWM');
  const failed = streams.failed();
  await streams.done();
  return { idle, peak, failed };
}

/** /health latencies (ms) probed every 2 ms until `until` settles. */
async function probeHealth(url: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  until.finally(() => {
    done = true;
  });
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    const res = await request(`${url}/health`);
    await res.body.dump();
    latencies.push(performance.now() - started);
    await sleep(2);
  }
  return latencies;
}

async function main(): Promise<void> {
  await testTokenizer();
  const children: ChildProcess[] = [];
  const stub = await startUpstreamStub({ tokens: 40, tokenIntervalMs: 100 });
  try {
    // The floor, as bench/sidecar-proxy.ts runs it.
    const floorPort = await freePort();
    const floor = spawn(process.execPath, [join(ROOT, 'bench/sidecar-proxy-node-floor.ts')], {
      // The same malloc settings as the pod's sidecar, so the rows differ only by the proxy.
      env: {
        ...process.env,
        MALLOC_ARENA_MAX: podSidecar().env.MALLOC_ARENA_MAX,
        MALLOC_MMAP_THRESHOLD_: podSidecar().env.MALLOC_MMAP_THRESHOLD_,
        PORT: String(floorPort),
        UPSTREAM_URL: stub.url,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(floor);
    const floorUrl = `http://127.0.0.1:${floorPort}`;
    await waitForHttp(floorUrl, floor, { anyStatus: true, timeoutMs: 15_000 });
    const floorRow = await memoryRow(floor.pid as number, floorUrl, {});
    floor.kill('SIGTERM');

    // The cap on upstream requests is raised so that all the streams are open at once.
    const pod = await startPodSidecar(stub.url, {
      MAX_CONCURRENT_UPSTREAM: String(STREAMS + 16),
      LOG_LEVEL: 'info',
    });
    const pid = pod.child.pid as number;
    const auth = { authorization: `Bearer ${pod.key}` };
    const sidecarRow = await memoryRow(pid, pod.url, auth);

    // /health with nothing else running, then during 4 MB refusals.
    const quiet = await probeHealth(pod.url, sleep(1_000));
    const text = 'q'.repeat(4 * MB);
    const refusalMs: number[] = [];
    const during: number[] = [];
    // Round 0 warms the code paths up (V8 compiles them on first use) and is not counted.
    for (let i = 0; i <= REFUSALS; i++) {
      // Bytes, not a string: undici would encode a 4 MB string on this process's event loop, and
      // the probes below would measure that stall instead of the sidecar's.
      const body = Buffer.from(
        JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: text }], max_tokens: 16 }),
      );
      const started = performance.now();
      const refusal = request(`${pod.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body,
      }).then(async (res) => {
        await res.body.dump();
        if (i > 0) refusalMs.push(performance.now() - started);
        if (res.statusCode !== 400) throw new Error(`the 4 MB text got ${res.statusCode}, not 400`);
      });
      const latencies = await probeHealth(pod.url, refusal);
      if (i > 0) during.push(...latencies);
      await refusal;
    }
    await pod.stop();

    const mb = (n: number): string => `${(n / MB).toFixed(0)} MB`;
    const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');
    console.log(
      `sidecar memory benchmark (${STREAMS} streams of 40 chunks at 100 ms; the sidecar as the pod runs it: NODE_OPTIONS="${podSidecar().env.NODE_OPTIONS ?? ''}" and the memory limit from the Deployment builder)`,
    );
    console.log('\n| process | idle RSS | peak RSS, 500 streams open | failed streams |');
    console.log('| --- | --- | --- | --- |');
    console.log(
      `| bare Node proxy (floor) | ${mb(floorRow.idle)} | ${mb(floorRow.peak)} | ${floorRow.failed} |`,
    );
    console.log(
      `| sidecar (real tokenizer) | ${mb(sidecarRow.idle)} | ${mb(sidecarRow.peak)} | ${sidecarRow.failed} |`,
    );
    console.log('\n| /health | probes | p50 | p99 | max |');
    console.log('| --- | --- | --- | --- | --- |');
    const row = (name: string, values: number[]) =>
      console.log(
        `| ${name} | ${values.length} | ${quantile(values, 0.5).toFixed(1)} ms | ${quantile(values, 0.99).toFixed(1)} ms | ${Math.max(...values).toFixed(1)} ms |`,
      );
    row('nothing else running', quiet);
    row(`during ${REFUSALS} refusals of a 4 MB text`, during);
    const p99 = quantile(during, 0.99);
    const refusal = quantile(refusalMs, 0.5);
    console.log(
      `\nidle RSS ${mb(sidecarRow.idle)} (target <= 120 MB: ${met(sidecarRow.idle <= 120 * MB)}, ${(sidecarRow.idle / floorRow.idle).toFixed(2)}x the floor); ` +
        `${STREAMS} streams ${mb(sidecarRow.peak)} (target <= 200 MB: ${met(sidecarRow.peak <= 200 * MB)}, ${(sidecarRow.peak / floorRow.peak).toFixed(2)}x the floor); ` +
        `/health p99 during the refusal ${p99.toFixed(1)} ms (target < 50 ms: ${met(p99 < 50)}); ` +
        `refusal of 4 MB median ${refusal.toFixed(0)} ms, max ${Math.max(...refusalMs).toFixed(0)} ms (target < 1 s: ${met(refusal < 1_000)})`,
    );
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await stub.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
