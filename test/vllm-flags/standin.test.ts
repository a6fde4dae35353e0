/**
 * The vLLM stand-in as a process, started with the operator's own arguments: it reads its model
 * folder, serves vLLM's routes on --host/--port, and exits like vLLM on a bad command line.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModel, vllmArgs } from '../../operator/src/catalog/index.ts';
import { eventually } from '../harness/eventually.ts';
import { freePort } from '../harness/processes.ts';

const CLI = join(import.meta.dirname, '..', 'upstream-stub', 'vllm-cli.ts');
const pixtral = findModel('mistral/pixtral-12b-2409:bf16')!;
let weights: string;

function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

beforeAll(async () => {
  weights = await mkdtemp(join(tmpdir(), 'standin-weights-'));
  await writeFile(join(weights, 'params.json'), '{}');
});
afterAll(() => rm(weights, { recursive: true, force: true }));

describe('the vLLM stand-in', () => {
  it("serves vLLM's routes when started with the operator's arguments", async () => {
    const port = await freePort();
    const args = vllmArgs({
      model: pixtral,
      nodeType: 'H100-2',
      modelDir: weights,
      maxContextLength: 65536,
      maxImagesPerRequest: 12,
      port,
    });
    const standin = start(args);
    try {
      const health = await eventually(() => fetch(`http://127.0.0.1:${port}/health`), { timeoutMs: 20_000 });
      expect(health.status).toBe(200);
      const models = (await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json()) as {
        data: { id: string }[];
      };
      expect(models.data.map((m) => m.id)).toEqual([pixtral.name]);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain(
        'vllm:num_requests_waiting',
      );
      expect(standin.output()).toContain('1 files');
    } finally {
      standin.child.kill('SIGTERM');
      await standin.exited;
    }
  });

  it("exits 2 with argparse's message on an unknown flag, 1 on a missing model folder", async () => {
    const unknown = start([weights, '--no-such-flag']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output()).toContain('vllm serve: error: unrecognized arguments: --no-such-flag');
    const missing = start([join(weights, 'absent'), '--port', String(await freePort())]);
    expect(await missing.exited).toBe(1);
    expect(missing.output()).toContain('cannot read the model folder');
  });
});
