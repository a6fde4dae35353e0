/**
 * SIDECAR_NOAUTH_PORT: a second listener with the same routes and no key check, sharing the
 * limits, the upstream slots, metrics and health with the keyed one.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../runtime-image/src/sidecar/logger.ts';
import { createSidecar } from '../../runtime-image/src/sidecar/server.ts';
import { freePort } from '../harness/processes.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { basicPreparer } from './basic-preparer.ts';
import { chatBody, newKey, type Rig, startRig } from './harness.ts';
import { openStream } from './main-process.ts';

const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };

async function call(
  base: string,
  route: 'chat' | 'models',
  headers: Record<string, string> = {},
  body: unknown = chatBody(),
): Promise<{ status: number; json: { error?: { message: string } } }> {
  const res =
    route === 'chat'
      ? await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        })
      : await fetch(`${base}/v1/models`, { headers });
  return { status: res.status, json: (await res.json()) as { error?: { message: string } } };
}

describe('a keyless second listener next to the keyed one', () => {
  let rig: Rig;
  let open: string;
  beforeAll(async () => {
    rig = await startRig({ config: { noauthPort: 0 } });
    open = rig.sidecar.noauth?.url as string;
  });
  afterAll(() => rig.close());

  it('listens on its own port', () => {
    expect(rig.sidecar.noauth?.port).toBeGreaterThan(0);
    expect(rig.sidecar.noauth?.port).not.toBe(rig.sidecar.port);
  });

  it.each(['chat', 'models'] as const)(
    'answers %s without a key with 401 on the main port and 200 on the noauth port',
    async (route) => {
      expect((await call(rig.sidecar.url, route)).status).toBe(401);
      expect((await call(open, route)).status).toBe(200);
    },
  );

  it('still serves a valid key on the main port', async () => {
    expect((await call(rig.sidecar.url, 'chat', { authorization: `Bearer ${rig.key}` })).status).toBe(200);
  });

  it('ignores any key sent to the noauth port and forwards none', async () => {
    const wrong = newKey();
    expect((await call(open, 'chat', { authorization: `Bearer ${wrong}` })).status).toBe(200);
    expect(rig.stub.received.at(-1)?.headers.authorization).toBeUndefined();
    expect(rig.logs()).not.toContain(wrong);
  });

  it('applies the same limits: the 13th image is a 413 naming the limit', async () => {
    const body = chatBody({ messages: [{ role: 'user', content: Array(13).fill(image) }] });
    const answer = await call(open, 'chat', {}, body);
    expect(answer.status).toBe(413);
    expect(answer.json.error?.message).toBe(
      'At most 12 image(s) may be provided in one prompt; this request has 13.',
    );
  });

  it('answers /health on both ports', async () => {
    for (const base of [rig.sidecar.url, open]) expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('counts requests by listener in one /metrics, served on both ports', async () => {
    await call(rig.sidecar.url, 'chat');
    await call(open, 'chat');
    for (const base of [rig.sidecar.url, open]) {
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toMatch(
        /sidecar_requests_total\{route="chat_completions",status="401",listener="main"\} [1-9]/,
      );
      expect(text).toMatch(
        /sidecar_requests_total\{route="chat_completions",status="200",listener="noauth"\} [1-9]/,
      );
    }
  });

  it('names the listener in each request log line', () => {
    expect(rig.logs()).toMatch(/"listener":"noauth","route":"chat_completions"/);
    expect(rig.logs()).toMatch(/"listener":"main","route":"chat_completions"/);
  });
});

describe('one upstream cap for both listeners', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({
      config: { noauthPort: 0, maxConcurrentUpstream: 1, maxQueue: 0 },
      stub: { tokens: 200, tokenIntervalMs: 20 },
    });
  });
  afterAll(() => rig.close());

  it('refuses a noauth request with 429 while a keyed stream holds the only slot', async () => {
    const held = openStream(rig.sidecar.url, { authorization: `Bearer ${rig.key}` });
    await held.firstChunk;
    const answer = await call(rig.sidecar.noauth?.url as string, 'chat');
    expect(answer.status).toBe(429);
    await rig.sidecar.shutdown(0);
    await held.ended.catch(() => undefined);
  });
});

describe('binding the noauth port', () => {
  let stub: UpstreamStub;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    stub = await startUpstreamStub();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(() => stub.close());

  /** A port held by another server for the test's duration. */
  async function takenPort(): Promise<number> {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => holder.close(resolve)));
    return (holder.address() as { port: number }).port;
  }

  it('fails the start naming SIDECAR_NOAUTH_PORT when another process holds it, and releases the main port', async () => {
    const taken = await takenPort();
    const mainPort = await freePort();
    const start = createSidecar(
      { host: '127.0.0.1', port: mainPort, noauthPort: taken, upstreamUrl: stub.url, disableAuth: true },
      {
        preparer: basicPreparer({ maxImagesPerRequest: 12 }),
        logger: createLogger('silent'),
        processMetrics: false,
      },
    );
    await expect(start).rejects.toThrow(
      `cannot listen on SIDECAR_NOAUTH_PORT=${taken} at 127.0.0.1: EADDRINUSE`,
    );
    // The main listener it had opened is closed again: its port can be bound.
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(mainPort, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => again.close(resolve));
  });

  it('refuses the same port for both listeners before binding either', async () => {
    const port = await freePort();
    const start = createSidecar(
      { host: '127.0.0.1', port, noauthPort: port, upstreamUrl: stub.url, disableAuth: true },
      {
        preparer: basicPreparer({ maxImagesPerRequest: 12 }),
        logger: createLogger('silent'),
        processMetrics: false,
      },
    );
    await expect(start).rejects.toThrow(
      `SIDECAR_NOAUTH_PORT: SIDECAR_NOAUTH_PORT must differ from SIDECAR_PORT (both are ${port})`,
    );
  });
});
