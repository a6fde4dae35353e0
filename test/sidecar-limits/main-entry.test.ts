/**
 * The real entry point (main.ts) runs the full preparer: it reads tekken.json from WEIGHTS_DIR,
 * refuses bad images and the 13th image before vLLM sees anything, forwards images as data: URLs
 * and exports the token count metric. A missing tokenizer stops it at start with a clear message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MainProcess, startMain } from '../sidecar/main-process.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { testTokenizer } from './oracle.ts';
import { dataUrl, forwardedImageUrls, imageBody } from './rig.ts';

let stub: UpstreamStub;
let main: MainProcess;
beforeAll(async () => {
  await testTokenizer(); // makes sure the oracle set-up has extracted tekken.json
  stub = await startUpstreamStub();
  main = await startMain({ UPSTREAM_URL: stub.url, DISABLE_AUTH: 'true', MAX_IMAGES_PER_REQUEST: '12' });
});
afterAll(async () => {
  main.child.kill('SIGKILL');
  await stub.close();
});

const post = async (body: unknown) => {
  const res = await fetch(`${main.url}/v1/chat/completions`, {
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
    const metrics = await (await fetch(`${main.url}/metrics`)).text();
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
    const started = startMain({
      UPSTREAM_URL: stub.url,
      DISABLE_AUTH: 'true',
      WEIGHTS_DIR: '/nonexistent-weights',
    });
    await expect(started).rejects.toThrow(/set WEIGHTS_DIR/);
  });
});
