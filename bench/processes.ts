/**
 * Child processes of the sidecar benchmarks: free ports, the upstream stub, waiting until up, the
 * CPU time they use, and the API key they are called with.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { TEKKEN_PATH } from '../test/sidecar-limits/oracle.ts';
import { readProc } from './scale/procfs.ts';

export { freePort } from '../test/harness/processes.ts';

const ROOT = join(import.meta.dirname, '..');

/**
 * Polls `url` until it answers (with 200 unless `anyStatus`), failing early when `child` exits and
 * after `timeoutMs`.
 */
export async function waitForHttp(
  url: string,
  child: ChildProcess,
  options: { anyStatus?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (options.anyStatus || response.status === 200) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not come up within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts the vLLM-compatible stub (16 tokens per answer) as a child recorded in `children`. */
export async function startStub(
  children: ChildProcess[],
): Promise<{ url: string; port: number; pid: number }> {
  const child = spawn(process.execPath, [join(ROOT, 'test/upstream-stub/main.ts'), '--tokens', '16'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`stub exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
  });
  const url = (JSON.parse(line) as { url: string }).url;
  return { url, port: Number(new URL(url).port), pid: child.pid as number };
}

/** CPU time (user + system) used so far by the processes, in ms, from /proc (Linux). */
export function cpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    const reading = readProc(pid);
    if (!reading) throw new Error(`Process ${pid} is gone: its CPU time cannot be read`);
    return sum + reading.cpuMs;
  }, 0);
}

/**
 * A fresh API key and, in `scratchDir`, the key-hash file that lets the sidecar accept it (its
 * API_KEY_HASHES_FILE).
 */
export function benchKeyFile(scratchDir: string): { key: string; hashFile: string } {
  const key = `pxd_${randomBytes(32).toString('base64url')}`;
  const hashFile = join(scratchDir, 'key-hashes');
  writeFileSync(hashFile, `bench:${createHash('sha256').update(key).digest('hex')}\n`);
  return { key, hashFile };
}

/**
 * The environment the benchmarks run the sidecar with: on 127.0.0.1:`port` in front of
 * `upstream`, keys from `hashFile`, logs on (their cost is part of the measure), a concurrency
 * cap no load reaches, and the test tokenizer.
 */
export function sidecarBenchEnv(port: number, upstream: string, hashFile: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SIDECAR_HOST: '127.0.0.1',
    SIDECAR_PORT: String(port),
    UPSTREAM_URL: upstream,
    API_KEY_HASHES_FILE: hashFile,
    MAX_CONCURRENT_UPSTREAM: '256',
    LOG_LEVEL: 'info',
    WEIGHTS_DIR: dirname(TEKKEN_PATH),
  };
}
