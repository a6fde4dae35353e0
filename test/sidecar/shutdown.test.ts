import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testTokenizer } from '../sidecar-limits/oracle.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { eventually, hashOf, newKey, SecretDir } from './harness.ts';
import { openStream, startMain } from './main-process.ts';

describe('SIGTERM on the real entry point', () => {
  let stub: UpstreamStub | undefined;
  let child: ChildProcess | undefined;
  // main.ts loads the model's tokenizer; this puts the test copy in place.
  beforeAll(() => testTokenizer());
  let secret: SecretDir | undefined;
  afterEach(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await stub?.close();
    secret?.remove();
  });

  /** A keyless sidecar streaming from a stub with `tokens` chunks 50 ms apart, sent SIGTERM mid-stream. */
  async function sigtermDuringStream(tokens: number, graceMs: number, delayMs: number) {
    stub = await startUpstreamStub({ tokens, tokenIntervalMs: 50 });
    const main = await startMain({
      UPSTREAM_URL: stub.url,
      DISABLE_AUTH: 'true',
      SHUTDOWN_GRACE_MS: String(graceMs),
      SHUTDOWN_DELAY_MS: String(delayMs),
    });
    child = main.child;
    const running = openStream(main.url);
    await running.firstChunk;
    const exited = once(main.child, 'exit');
    main.child.kill('SIGTERM');
    return { url: main.url, running, exited, stub };
  }

  it('fails readiness, stops accepting, lets an in-flight stream finish, and exits 0', async () => {
    const { url, running, exited, stub } = await sigtermDuringStream(20, 20_000, 300);
    // During the delay the pod still serves, but tells Kubernetes it is not ready.
    await eventually(async () => expect((await fetch(`${url}/health`)).status).toBe(503));
    // Then the listener closes.
    await eventually(() => expect(fetch(`${url}/health`)).rejects.toThrow());
    const { text } = await running.ended;
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text).toContain('tok19');
    expect(await exited).toEqual([0, null]);
    expect(stub.received[0]?.completed).toBe(true);
  });

  it('cuts a stream that outlasts the grace period with an SSE error event', async () => {
    const { running, exited } = await sigtermDuringStream(1_000, 300, 0);
    const { text } = await running.ended;
    expect(text).toContain('"message":"The server shut down before the answer was complete."');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await exited).toEqual([0, null]);
  });

  it('drains both listeners: each fails readiness, closes, and lets its in-flight stream finish', async () => {
    // Streams long enough (80 × 40 ms) to still run when both listeners have closed.
    stub = await startUpstreamStub({ tokens: 80, tokenIntervalMs: 40 });
    const key = newKey();
    secret = new SecretDir(`${hashOf(key)}\n`);
    const main = await startMain({
      UPSTREAM_URL: stub.url,
      API_KEY_HASHES_FILE: secret.file,
      SIDECAR_NOAUTH_PORT: '0',
      SHUTDOWN_GRACE_MS: '20000',
      SHUTDOWN_DELAY_MS: '500',
    });
    child = main.child;
    const urls = [main.url, main.noauthUrl as string];
    const keyed = openStream(main.url, { authorization: `Bearer ${key}` });
    const open = openStream(main.noauthUrl as string);
    await Promise.all([keyed.firstChunk, open.firstChunk]);
    let streamsEnded = false;
    const ended = Promise.all([keyed.ended, open.ended]).finally(() => {
      streamsEnded = true;
    });
    const exited = once(main.child, 'exit');
    main.child.kill('SIGTERM');
    const health = () => Promise.all(urls.map(async (url) => (await fetch(`${url}/health`)).status));
    await eventually(async () => expect(await health()).toEqual([503, 503]));
    await eventually(() => expect(health()).rejects.toThrow());
    for (const url of urls) await expect(fetch(`${url}/health`)).rejects.toThrow();
    // Closed by the drain, not by the process exiting after the streams.
    expect([streamsEnded, main.child.exitCode]).toEqual([false, null]);
    for (const { text } of await ended) {
      expect(text).toContain('tok79');
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    }
    expect(await exited).toEqual([0, null]);
    expect(stub.received.map((r) => r.completed)).toEqual([true, true]);
  });
});
