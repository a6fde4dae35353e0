import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEKKEN_PATH, testTokenizer } from '../sidecar-limits/oracle.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { chatBody, eventually } from './harness.ts';

const MAIN = new URL('../../runtime-image/src/sidecar/main.ts', import.meta.url).pathname;

/** Runs the real entry point as a child process and waits for its "Started sidecar" line. */
async function startMain(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; lines: string[] }> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      SIDECAR_HOST: '127.0.0.1',
      SIDECAR_PORT: '0',
      WEIGHTS_DIR: dirname(TEKKEN_PATH),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sidecar exited with ${code}`)));
    reader.on('line', (line) => {
      lines.push(line);
      const entry = JSON.parse(line) as { msg: string; port?: number };
      if (entry.msg === 'Started sidecar') resolve(`http://127.0.0.1:${entry.port}`);
    });
  });
  return { child, url, lines };
}

function stream(url: string): { firstChunk: Promise<void>; ended: Promise<string> } {
  let first: () => void = () => {};
  const firstChunk = new Promise<void>((resolve) => {
    first = resolve;
  });
  const ended = new Promise<string>((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        first();
      });
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(chatBody({ stream: true, max_tokens: undefined })));
  });
  return { firstChunk, ended };
}

describe('SIGTERM on the real entry point', () => {
  let stub: UpstreamStub | undefined;
  let child: ChildProcess | undefined;
  // main.ts loads the model's tokenizer; this puts the test copy in place.
  beforeAll(() => testTokenizer());
  afterEach(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await stub?.close();
  });

  it('fails readiness, stops accepting, lets an in-flight stream finish, and exits 0', async () => {
    stub = await startUpstreamStub({ tokens: 20, tokenIntervalMs: 50 });
    const main = await startMain({
      UPSTREAM_URL: stub.url,
      DISABLE_AUTH: 'true',
      SHUTDOWN_GRACE_MS: '20000',
      SHUTDOWN_DELAY_MS: '300',
    });
    child = main.child;
    const running = stream(main.url);
    await running.firstChunk;
    const exited = once(main.child, 'exit');
    main.child.kill('SIGTERM');
    // During the delay the pod still serves, but tells Kubernetes it is not ready.
    await eventually(async () => expect((await fetch(`${main.url}/health`)).status).toBe(503));
    // Then the listener closes.
    await eventually(() => expect(fetch(`${main.url}/health`)).rejects.toThrow());
    const text = await running.ended;
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text).toContain('tok19');
    expect(await exited).toEqual([0, null]);
    expect(stub.received[0]?.completed).toBe(true);
  });

  it('cuts a stream that outlasts the grace period with an SSE error event', async () => {
    stub = await startUpstreamStub({ tokens: 1_000, tokenIntervalMs: 50 });
    const main = await startMain({
      UPSTREAM_URL: stub.url,
      DISABLE_AUTH: 'true',
      SHUTDOWN_GRACE_MS: '300',
      SHUTDOWN_DELAY_MS: '0',
    });
    child = main.child;
    const running = stream(main.url);
    await running.firstChunk;
    const exited = once(main.child, 'exit');
    main.child.kill('SIGTERM');
    const text = await running.ended;
    expect(text).toContain('"message":"The server shut down before the answer was complete."');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await exited).toEqual([0, null]);
  });
});
