/**
 * The real entry point (main.ts) runs the full preparer: it reads tekken.json from WEIGHTS_DIR,
 * refuses bad images and the 13th image before vLLM sees anything, forwards images as data: URLs
 * and exports the token count metric. A missing tokenizer stops it at start with a clear message.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { ROOT, TEKKEN_PATH, testTokenizer } from './oracle.ts';
import { dataUrl, forwardedImageUrls, imageBody } from './rig.ts';

const MAIN = join(ROOT, 'runtime-image/src/sidecar/main.ts');

function startMain(env: Record<string, string>): {
  child: ChildProcess;
  started: Promise<string>;
  stderr: () => string;
} {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, SIDECAR_HOST: '127.0.0.1', SIDECAR_PORT: '0', DISABLE_AUTH: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const started = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sidecar exited with ${code}: ${err}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg: string; port?: number };
      if (entry.msg === 'Started sidecar') resolve(`http://127.0.0.1:${entry.port}`);
    });
  });
  return { child, started, stderr: () => err };
}

let stub: UpstreamStub;
let child: ChildProcess;
let url: string;
beforeAll(async () => {
  await testTokenizer(); // makes sure the oracle set-up has extracted tekken.json
  stub = await startUpstreamStub();
  const main = startMain({
    UPSTREAM_URL: stub.url,
    WEIGHTS_DIR: dirname(TEKKEN_PATH),
    MAX_IMAGES_PER_REQUEST: '12',
  });
  child = main.child;
  url = await main.started;
});
afterAll(async () => {
  child.kill('SIGKILL');
  await stub.close();
});

const post = async (body: unknown) => {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
};

describe('main.ts with the full preparer', () => {
  it('forwards a JPEG as a data: URL and exports its prompt token count', async () => {
    const res = await post(imageBody([dataUrl('baseline.jpg', 'image/png')]));
    expect(res.status).toBe(200);
    expect(forwardedImageUrls(stub.received.at(-1)?.body)[0]).toMatch(/^data:image\/jpeg;base64,/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/sidecar_prompt_tokens_count 1/);
  });

  it('refuses an animated GIF and the 13th image, and the stub sees neither', async () => {
    const before = stub.received.length;
    expect((await post(imageBody([dataUrl('animated.gif')]))).status).toBe(400);
    expect((await post(imageBody(Array.from({ length: 13 }, () => dataUrl('one-pixel.png'))))).status).toBe(
      413,
    );
    expect(stub.received.length).toBe(before);
  });

  it('refuses to start without tekken.json, naming WEIGHTS_DIR', async () => {
    const main = startMain({ UPSTREAM_URL: stub.url, WEIGHTS_DIR: '/nonexistent-weights' });
    await expect(main.started).rejects.toThrow(/set WEIGHTS_DIR/);
  });
});
