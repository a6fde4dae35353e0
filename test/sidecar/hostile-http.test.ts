import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, type Rig, startRig } from './harness.ts';

/** Writes raw bytes on a fresh socket and resolves with everything the server sent back. */
function raw(rig: Rig, bytes: string, options: { trickle?: boolean } = {}): Promise<string> {
  const { port } = new URL(rig.sidecar.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('close', () => {
      clearInterval(timer);
      resolve(received);
    });
    socket.on('error', reject);
    if (!options.trickle) {
      socket.write(bytes);
      return;
    }
    let sent = 0;
    timer = setInterval(() => {
      if (socket.destroyed || sent >= bytes.length) return clearInterval(timer);
      socket.write(bytes[sent++] as string);
    }, 100);
  });
}

describe('hostile HTTP', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({
      config: { headersTimeoutMs: 500, requestTimeoutMs: 1_000 },
      stub: { tokens: 30, tokenIntervalMs: 50 },
    });
  });
  afterAll(() => rig.close());

  it('cuts a client that sends its headers one byte at a time (Slowloris)', async () => {
    const answer = await raw(
      rig,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${'x-pad: y\r\n'.repeat(50)}\r\n`,
      { trickle: true },
    );
    expect(answer).toMatch(/^HTTP\/1.1 408/);
  });

  it('answers 431 to a 20 KiB header', async () => {
    const answer = await raw(
      rig,
      `GET /health HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 431/);
  });

  it('refuses a request with both Content-Length and Transfer-Encoding', async () => {
    const body = JSON.stringify(chatBody());
    const answer = await raw(
      rig,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${rig.key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 400/);
  });

  it('does not fail on hop-by-hop headers from the client, nor forward them', async () => {
    const body = JSON.stringify(chatBody());
    const answer = await raw(
      rig,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${rig.key}\r\nContent-Type: application/json\r\nConnection: keep-alive, Upgrade, close\r\nUpgrade: h2c\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    const seen = rig.stub.received.at(-1)?.headers ?? {};
    expect(seen.upgrade).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
  });

  it('lets a stream run past the request timeout once the request is in', async () => {
    const res = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: rig.headers(),
      body: JSON.stringify(chatBody({ stream: true, max_tokens: undefined })),
    });
    const text = await res.text();
    expect(text).toContain('tok29');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('answers unknown paths with 404 and wrong methods with 405, in the OpenAI shape', async () => {
    const unknown = await fetch(`${rig.sidecar.url}/tokenize`, {
      method: 'POST',
      headers: rig.headers(),
      body: '{}',
    });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()) as unknown).toMatchObject({ error: { type: 'not_found_error' } });
    const wrong = await fetch(`${rig.sidecar.url}/v1/chat/completions`, { headers: rig.headers() });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});
