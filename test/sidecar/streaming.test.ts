import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type Rig, startRig } from './harness.ts';
import { openStream } from './main-process.ts';

describe('streams', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('relays SSE chunks as they come, ending with [DONE]', async () => {
    rig = await startRig({ stub: { tokens: 4, tokenIntervalMs: 50 } });
    const stream = openStream(rig.sidecar.url, rig.headers());
    const { status, text } = await stream.ended;
    expect(status).toBe(200);
    expect(stream.chunks.length).toBeGreaterThan(1);
    const events = text.split('\n\n').filter((e) => e !== '');
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.length).toBe(1 + 4 + 1);
  });

  it('aborts the upstream request when the client disconnects mid-stream', async () => {
    rig = await startRig({ stub: { tokens: 200, tokenIntervalMs: 20 } });
    const stream = openStream(rig.sidecar.url, rig.headers());
    stream.ended.catch(() => {});
    await stream.firstChunk;
    stream.req.destroy();
    const stub = rig.stub;
    await eventually(() => expect(stub.received[0]?.aborted).toBe(true));
    expect(stub.received[0]?.completed).toBe(false);
    // The slot is free again: the next request goes through.
    const next = openStream(rig.sidecar.url, rig.headers());
    stub.behaviour.tokens = 2;
    expect((await next.ended).status).toBe(200);
    await eventually(async () => {
      const text = await (await fetch(`${rig?.sidecar.url}/metrics`)).text();
      expect(text).toContain('sidecar_upstream_in_flight 0');
    });
  });

  it('ends the stream with an error event when the model server fails mid-stream', async () => {
    rig = await startRig({ stub: { tokens: 10, tokenIntervalMs: 20, resetAfterTokens: 3 } });
    const { status, text } = await openStream(rig.sidecar.url, rig.headers()).ended;
    expect(status).toBe(200);
    const events = text.split('\n\n').filter((e) => e !== '');
    expect(events.at(-1)).toBe('data: [DONE]');
    const error = JSON.parse((events.at(-2) ?? '').replace(/^data: /, ''));
    expect(error).toEqual({
      error: { message: 'The model server failed to answer.', type: 'server_error', param: null, code: null },
    });
    expect(events.filter((e) => e.includes('"delta"')).length).toBe(1 + 3);
  });

  it('holds back the upstream read while the client does not read (backpressure)', async () => {
    rig = await startRig({ stub: { tokens: 100_000, tokenIntervalMs: 0 } });
    const stream = openStream(rig.sidecar.url, rig.headers());
    stream.ended.catch(() => {});
    await stream.firstChunk;
    // Stop reading: the socket buffers fill, the sidecar pauses, and the stub stops writing.
    stream.req.socket?.pause();
    const stub = rig.stub;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stub.received[0]?.completed).toBe(false);
    stream.req.socket?.resume();
    expect((await stream.ended).status).toBe(200);
    expect(stub.received[0]?.completed).toBe(true);
  });

  it('cuts a client that stops reading once the socket has been idle too long', async () => {
    rig = await startRig({ config: { idleTimeoutMs: 500 }, stub: { tokens: 100_000, tokenIntervalMs: 0 } });
    const stream = openStream(rig.sidecar.url, rig.headers());
    stream.ended.catch(() => {});
    await stream.firstChunk;
    stream.req.socket?.pause();
    const stub = rig.stub;
    await eventually(() => expect(stub.received[0]?.aborted).toBe(true), 10_000);
    expect(stub.received[0]?.completed).toBe(false);
  });
});
