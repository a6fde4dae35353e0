import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, eventually, hashOf, newKey, type Rig, startRig } from './harness.ts';

async function post(
  rig: Rig,
  headers: Record<string, string>,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(chatBody()),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

describe('API key checks', () => {
  let rig: Rig;
  beforeAll(async () => {
    // A long re-read period: rotation must be seen through the folder watch.
    rig = await startRig({ config: { keyReloadIntervalMs: 60_000 } });
  });
  afterAll(() => rig.close());

  it('accepts a listed key', async () => {
    expect((await post(rig, { authorization: `Bearer ${rig.key}` })).status).toBe(200);
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong key', { authorization: `Bearer ${newKey()}` }],
    ['the key without the Bearer scheme', { authorization: 'KEY' }],
    ['a Basic scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['the hash itself instead of the key', { authorization: 'Bearer HASH' }],
  ])(
    'refuses %s with 401 in the OpenAI shape, giving no hint',
    async (_name, raw: Record<string, string>) => {
      const headers = Object.fromEntries(
        Object.entries(raw).map(([k, v]) => [k, v.replace('KEY', rig.key).replace('HASH', hashOf(rig.key))]),
      );
      const answer = await post(rig, headers);
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({
        error: {
          message: 'Missing or invalid API key. Send it as "Authorization: Bearer <key>".',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
    },
  );

  it('refuses a 401 before anything reaches the model server', async () => {
    const before = rig.stub.received.length;
    await post(rig, { authorization: `Bearer ${newKey()}` });
    expect(rig.stub.received.length).toBe(before);
  });

  it('follows a key rotation written as a Secret symlink swap, without a restart', async () => {
    const next = newKey();
    rig.secret.update(`second:${hashOf(next)}\n`);
    await eventually(async () =>
      expect((await post(rig, { authorization: `Bearer ${rig.key}` })).status).toBe(401),
    );
    expect((await post(rig, { authorization: `Bearer ${next}` })).status).toBe(200);
    expect(rig.logs()).toContain('"keyId":"second"');
  });

  it('keeps the previous keys when the new file is malformed', async () => {
    const next = newKey();
    rig.secret.update(`third:${hashOf(next)}\n`);
    await eventually(async () =>
      expect((await post(rig, { authorization: `Bearer ${next}` })).status).toBe(200),
    );
    rig.secret.update('not a hash\n');
    await eventually(() => expect(rig.logs()).toContain('Refused malformed API key hashes'));
    expect((await post(rig, { authorization: `Bearer ${next}` })).status).toBe(200);
  });

  it('never logs a presented key, right or wrong', async () => {
    const wrong = newKey();
    await post(rig, { authorization: `Bearer ${wrong}` });
    expect(rig.logs()).not.toContain(wrong);
    expect(rig.logs()).not.toContain(rig.key);
  });
});

describe('with auth disabled', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ config: { disableAuth: true } });
  });
  afterAll(() => rig.close());

  it('serves requests that carry no key', async () => {
    expect((await post(rig, {})).status).toBe(200);
  });
});
