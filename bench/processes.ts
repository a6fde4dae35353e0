/** Child processes of the sidecar benchmarks: free ports, the upstream stub, waiting until up. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

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
