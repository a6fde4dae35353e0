/**
 * The real entry point with the settings the operator derives from a PixtralDeployment: a
 * text-only deployment (`maxImagesPerRequest: 0`) starts and refuses any image before vLLM sees
 * it, and a port clash stops the start with a configuration error instead of a crash loop.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testTokenizer } from '../sidecar-limits/oracle.ts';
import { dataUrl, imageBody } from '../sidecar-limits/rig.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { chatBody } from './harness.ts';
import { type MainProcess, spawnMain, startMain } from './main-process.ts';

let stub: UpstreamStub;
beforeAll(async () => {
  await testTokenizer(); // puts the test copy of tekken.json in place for WEIGHTS_DIR
  stub = await startUpstreamStub();
});
afterAll(() => stub.close());

async function post(url: string, body: unknown) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error?: Record<string, unknown> } };
}

describe('MAX_IMAGES_PER_REQUEST=0 (a text-only deployment)', () => {
  let main: MainProcess;
  beforeAll(async () => {
    main = await startMain({ UPSTREAM_URL: stub.url, DISABLE_AUTH: 'true', MAX_IMAGES_PER_REQUEST: '0' });
  });
  afterAll(() => {
    main.child.kill('SIGKILL');
  });

  it('starts and serves text', async () => {
    expect((await post(main.url, chatBody())).status).toBe(200);
  });

  it('refuses a single image with 413 stating the limit, and vLLM sees nothing', async () => {
    const before = stub.received.length;
    const answer = await post(main.url, imageBody([dataUrl('one-pixel.png')]));
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatchObject({
      message: 'At most 0 image(s) may be provided in one prompt; this request has 1.',
      code: 'too_many_images',
      param: 'messages',
    });
    expect(stub.received.length).toBe(before);
  });
});

describe('a port clash', () => {
  it('exits 2 at start with a message naming both variables', async () => {
    const { child, stderr } = spawnMain({
      UPSTREAM_URL: stub.url,
      DISABLE_AUTH: 'true',
      SIDECAR_PORT: '8080',
      SIDECAR_NOAUTH_PORT: '8080',
    });
    expect(await once(child, 'exit')).toEqual([2, null]);
    expect(stderr()).toContain(
      'Invalid sidecar configuration: SIDECAR_NOAUTH_PORT: SIDECAR_NOAUTH_PORT must differ from SIDECAR_PORT (both are 8080)',
    );
  });
});
