/**
 * A small driver around `wrk` (Debian package `wrk`): runs one bounded load and parses its
 * requests/s and latency percentiles. wrk is C and uses little CPU, which matters on a 2-core
 * machine where the load generator competes with the processes it measures.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What one wrk run measured. Latencies in ms. */
export interface WrkResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  /** Responses that were not 2xx/3xx, plus socket errors; a valid run has 0. */
  failures: number;
  /** CPU time wrk itself used (user + system), in ms, when measured. */
  wrkCpuMs?: number;
}

/** One load: a POST of `body` with `headers` to `url`. */
export interface WrkLoad {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function duration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (match === null) throw new Error(`Unexpected wrk duration "${text}"`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Parses wrk's `--latency` report. */
export function parseWrk(output: string): WrkResult {
  const pct = (p: string): number => {
    const match = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(output);
    if (match === null) throw new Error(`wrk output has no ${p}% line:\n${output}`);
    return duration(match[1] as string);
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const total = /(\d+) requests in/.exec(output);
  if (rps === null || total === null) throw new Error(`Unexpected wrk output:\n${output}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return {
    requestsPerSecond: Number(rps[1]),
    p50: pct('50'),
    p99: pct('99'),
    requests: Number(total[1]),
    failures: non2xx + socketErrors,
  };
}

/** Runs wrk (one thread) for `load.seconds` and returns what it measured. */
export async function runWrk(load: WrkLoad, scratchDir: string): Promise<WrkResult> {
  const script = join(scratchDir, `load-${Math.random().toString(36).slice(2)}.lua`);
  const lines = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(load.body)}`,
    ...Object.entries(load.headers).map(
      ([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`,
    ),
  ];
  writeFileSync(script, `${lines.join('\n')}\n`);
  // bash's `times` prints, on its second line, the CPU its children (wrk) used: the load
  // generator's own share of the two cores, which the benchmark's CPU budget needs.
  const { stdout } = await run(
    'bash',
    [
      '-c',
      'wrk "$@" && times',
      'wrk',
      '-t1',
      `-c${load.connections}`,
      `-d${load.seconds}s`,
      '--timeout',
      '5s',
      '--latency',
      '-s',
      script,
      load.url,
    ],
    { timeout: (load.seconds + 20) * 1000 },
  );
  const result = parseWrk(stdout);
  const children = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/m.exec(stdout.trim().split('\n').at(-1) ?? '');
  if (children !== null) {
    const [, um, us, sm, ss] = children.map(Number) as [number, number, number, number, number];
    result.wrkCpuMs = (um * 60 + us + sm * 60 + ss) * 1000;
  }
  return result;
}
