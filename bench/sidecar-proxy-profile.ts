/**
 * Where the sidecar's CPU goes per request, next to the bare Node floor: starts the stub, the
 * real sidecar entry point and bench/sidecar-proxy-node-floor.ts under `node --cpu-prof`, loads
 * each with wrk (small non-stream requests, or streams with BENCH_STREAM=1), stops them so V8
 * writes the profiles, and prints self time per request grouped by component and by function.
 *
 *   npm run bench:sidecar:profile   (needs `apt-get install -y wrk`)
 * Env: BENCH_SECONDS (load per target, default 5), BENCH_CONNECTIONS (default 32),
 * BENCH_STREAM (1: SSE streams), BENCH_TOP (functions listed, default 25),
 * BENCH_PROFILE_DIR (keep the .cpuprofile files there instead of a temp folder).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testTokenizer } from '../test/sidecar-limits/oracle.ts';
import { benchKeyFile, cpuMs, freePort, sidecarBenchEnv, startStub, waitForHttp } from './processes.ts';
import { runWrk } from './sidecar-proxy-wrk.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SECONDS = Math.max(1, Math.round(Number(process.env.BENCH_SECONDS ?? 5)));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const STREAM = process.env.BENCH_STREAM === '1';
const TOP = Number(process.env.BENCH_TOP ?? 25);

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The component a frame belongs to, from its script URL. */
function componentOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return 'native (V8 builtins, syscalls)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg !== null) return `npm:${pkg[1]}`;
  if (url.startsWith('node:')) {
    const name = url.slice(5);
    if (name.startsWith('internal/deps/undici')) return 'node:undici (fetch)';
    if (/^(_http|http|internal\/http)/.test(name)) return 'node:http';
    if (/^(net|internal\/(stream_base|net))/.test(name)) return 'node:net';
    if (/^(internal\/)?streams?/.test(name)) return 'node:stream';
    return 'node:other';
  }
  const own = /runtime-image\/src\/sidecar\/(.+)$/.exec(url);
  if (own !== null) return `sidecar:${own[1]}`;
  return url.replace(/^file:\/\/.*\//, '');
}

/**
 * Self time per request (µs) by component and by function, from a .cpuprofile file, counting
 * only the samples taken between `fromUs` and `toUs` (CLOCK_MONOTONIC µs, the clock of both V8's
 * profiler and process.hrtime on Linux), so start-up (module compile, tokenizer load) is left out.
 */
function summarize(profile: CpuProfile, requests: number, fromUs: number, toUs: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromUs || at > toUs) return;
    self.set(id, (self.get(id) ?? 0) + delta);
  });
  const components = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    const component = componentOf(frame);
    if (component === '(idle)') continue;
    busy += us;
    components.set(component, (components.get(component) ?? 0) + us);
    const file = frame.url.replace(/^.*\/(node_modules\/)?/, '');
    const key = `${frame.functionName || '(anonymous)'} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const perRequest = (entries: Map<string, number>) =>
    [...entries].map(([name, us]) => ({ name, us: us / requests })).sort((a, b) => b.us - a.us);
  return {
    busyPerRequest: busy / requests,
    components: perRequest(components),
    functions: perRequest(functions),
  };
}

/** CPU ms (user + system) and read/write syscalls so far of `pid`, from /proc (Linux). */
function processCounters(pid: number): { cpuMs: number; reads: number; writes: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const count = (name: string): number => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
  return {
    cpuMs: cpuMs([pid]),
    reads: count('syscr'),
    writes: count('syscw'),
  };
}

const children: ChildProcess[] = [];

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  return exited;
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-sidecar-profile-'));
  const profiles = process.env.BENCH_PROFILE_DIR ?? join(scratch, 'profiles');
  mkdirSync(profiles, { recursive: true });
  const { key, hashFile } = benchKeyFile(scratch);
  await testTokenizer();
  try {
    const upstream = (await startStub(children)).url;
    const targets = [
      { name: 'floor', script: 'bench/sidecar-proxy-node-floor.ts' },
      { name: 'sidecar', script: 'runtime-image/src/sidecar/main.ts' },
    ];
    const body = JSON.stringify({
      model: 'mistral/pixtral-12b-2409:bf16',
      messages: [{ role: 'user', content: 'Describe this picture in one line.' }],
      max_tokens: STREAM ? 16 : 8,
      ...(STREAM ? { stream: true, stream_options: { include_usage: true } } : {}),
    });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    for (const target of targets) {
      const port = await freePort();
      const dir = join(profiles, target.name);
      mkdirSync(dir, { recursive: true });
      const child = spawn(
        process.execPath,
        [
          '--cpu-prof',
          `--cpu-prof-dir=${dir}`,
          ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
          join(ROOT, target.script),
        ],
        {
          // PORT serves the bare floor, which takes the same environment.
          env: { ...sidecarBenchEnv(port, upstream, hashFile), PORT: String(port), SHUTDOWN_DELAY_MS: '0' },
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      children.push(child);
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(url, child, { anyStatus: true });
      const load = { url: `${url}/v1/chat/completions`, body, headers, connections: CONNECTIONS };
      await runWrk({ ...load, seconds: 1 }, scratch); // warm-up, left out of the summary
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const before = processCounters(child.pid as number);
      const result = await runWrk({ ...load, seconds: SECONDS }, scratch);
      const after = processCounters(child.pid as number);
      const toUs = Number(process.hrtime.bigint() / 1000n);
      await stop(child);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file === undefined) throw new Error(`${target.name}: no profile written in ${dir}`);
      const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
      const summary = summarize(profile, result.requests, fromUs, toUs);
      console.log(
        `\n## ${target.name}: ${result.requestsPerSecond.toFixed(0)} req/s, ${summary.busyPerRequest.toFixed(1)} µs sampled (non-idle) per request`,
      );
      const per = (n: number): string => (n / result.requests).toFixed(2);
      console.log(
        `CPU ${per((after.cpuMs - before.cpuMs) * 1000)} µs/req (from /proc); read syscalls ${per(after.reads - before.reads)}/req, write syscalls ${per(after.writes - before.writes)}/req\n`,
      );
      console.log('| component | µs/req |\n| --- | --- |');
      for (const c of summary.components.filter((c) => c.us >= 0.5))
        console.log(`| ${c.name} | ${c.us.toFixed(1)} |`);
      console.log(`\n| top functions (self) | µs/req |\n| --- | --- |`);
      for (const f of summary.functions.slice(0, TOP)) console.log(`| ${f.name} | ${f.us.toFixed(1)} |`);
    }
  } finally {
    for (const child of children) await stop(child);
    if (process.env.BENCH_PROFILE_DIR === undefined) rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  process.exit(1);
});
