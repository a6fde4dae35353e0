/**
 * Usage per API key, on the real sidecar process (main.ts, real tokenizer) in front of the vLLM
 * stub: over a mixed run of streams (with and without include_usage) and plain answers, with and
 * without images, from two keys, the per-key counters match what the stub reported in `usage` and
 * what the sidecar counted itself, and a client that did not ask for usage never sees it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/eventually.ts';
import { type MainProcess, startMain } from '../sidecar/main-process.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { dataUrl, MODEL } from './rig.ts';

const KEYS = { 'team-a': 'pxd_usage-test-key-for-team-a', 'ci-bot': 'pxd_usage-test-key-for-ci-bot' };
type KeyId = keyof typeof KEYS;

let stub: UpstreamStub;
let sidecar: MainProcess;
const dir = mkdtempSync(join(tmpdir(), 'key-usage-'));

beforeAll(async () => {
  stub = await startUpstreamStub({ tokens: 9 });
  const file = join(dir, 'hashes');
  writeFileSync(
    file,
    Object.entries(KEYS)
      .map(([id, key]) => `${id}:${createHash('sha256').update(key).digest('hex')}\n`)
      .join(''),
  );
  sidecar = await startMain({ UPSTREAM_URL: stub.url, API_KEY_HASHES_FILE: file, SHUTDOWN_DELAY_MS: '0' });
});

afterAll(async () => {
  sidecar?.child.kill('SIGKILL');
  await stub?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Sent {
  key: KeyId;
  stream: boolean;
  askedUsage: boolean;
  images: number;
  maxTokens: number;
}

async function send(s: Sent): Promise<{ status: number; text: string }> {
  const content = [
    { type: 'text', text: `Describe ${s.images} picture(s) for ${s.key}.` },
    ...Array.from({ length: s.images }, () => ({
      type: 'image_url',
      image_url: { url: dataUrl('photo.png') },
    })),
  ];
  const res = await fetch(`${sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEYS[s.key]}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL,
      max_tokens: s.maxTokens,
      stream: s.stream,
      ...(s.askedUsage ? { stream_options: { include_usage: true } } : {}),
      messages: [{ role: 'user', content }],
    }),
  });
  return { status: res.status, text: await res.text() };
}

/** `name{labels} value` lines of the sidecar's /metrics, as a map. */
async function samples(): Promise<Map<string, number>> {
  const text = await (await fetch(`${sidecar.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('usage per API key', () => {
  const run: Sent[] = [];
  for (let i = 0; i < 12; i++)
    run.push({
      key: i % 3 === 0 ? 'ci-bot' : 'team-a',
      stream: i % 2 === 0,
      askedUsage: i % 4 === 0,
      images: i % 5 === 0 ? 2 : i % 3 === 1 ? 1 : 0,
      maxTokens: 3 + (i % 7),
    });

  it('matches the stub’s completion tokens, the sidecar’s own prompt counts and the images, key by key', async () => {
    const answers = [];
    // One at a time, so the stub's record i is request i.
    for (const s of run) answers.push(await send(s));
    expect(answers.map((a) => a.status)).toEqual(run.map(() => 200));
    const refused = await fetch(`${sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS['ci-bot']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'not-served', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(refused.status).toBe(404);

    const expected = {
      'team-a': { completion: 0, images: 0, requests: 0 },
      'ci-bot': { completion: 0, images: 0, requests: 0 },
    };
    run.forEach((s, i) => {
      const usage = stub.received[i]?.usage;
      if (!usage) throw new Error(`the stub recorded no usage for request ${i}`);
      expected[s.key].completion += usage.completion_tokens;
      expected[s.key].images += s.images;
      expected[s.key].requests += 1;
    });
    // The sidecar's own prompt counts, from its log lines (the exact tokenizer, not the stub's
    // estimate); the log is written asynchronously, so wait for all of them.
    const prompt = await eventually(() => {
      const sums: Record<string, number> = {};
      let lines = 0;
      for (const line of sidecar.lines) {
        const entry = JSON.parse(line) as {
          msg: string;
          keyId?: string;
          promptTokens?: number;
          status?: number;
        };
        if (entry.msg !== 'Handled request' || !entry.keyId || entry.status !== 200) continue;
        lines += 1;
        sums[entry.keyId] = (sums[entry.keyId] ?? 0) + (entry.promptTokens ?? 0);
      }
      expect(lines).toBe(run.length);
      return sums;
    });
    const m = await samples();
    for (const key of Object.keys(KEYS) as KeyId[]) {
      expect(m.get(`sidecar_key_completion_tokens_total{key="${key}"}`), key).toBe(expected[key].completion);
      expect(m.get(`sidecar_key_images_total{key="${key}"}`), key).toBe(expected[key].images);
      expect(m.get(`sidecar_key_requests_total{key="${key}",status_class="2xx"}`), key).toBe(
        expected[key].requests,
      );
      expect(prompt[key], key).toBeGreaterThan(0);
      expect(m.get(`sidecar_key_prompt_tokens_total{key="${key}"}`), key).toBe(prompt[key]);
    }
    expect(m.get('sidecar_key_requests_total{key="ci-bot",status_class="4xx"}')).toBe(1);
    // Every prompt token the sidecar counted is billed to some key.
    expect(m.get('sidecar_prompt_tokens_sum')).toBe((prompt['team-a'] ?? 0) + (prompt['ci-bot'] ?? 0));
  });

  it('asks vLLM for usage in every stream, and shows the usage chunk only to clients that asked', () => {
    run.forEach((s, i) => {
      const forwarded = stub.received[i]?.body as { stream_options?: { include_usage?: boolean } };
      if (s.stream) expect(forwarded.stream_options?.include_usage, `request ${i}`).toBe(true);
      else expect(forwarded.stream_options, `request ${i}`).toBeUndefined();
    });
  });

  it('labels series with key names only: never a key, never a hash', async () => {
    const text = await (await fetch(`${sidecar.url}/metrics`)).text();
    const keyLabels = new Set([...text.matchAll(/\bkey="([^"]*)"/g)].map((m) => m[1]));
    expect(keyLabels).toEqual(new Set(Object.keys(KEYS)));
    for (const key of Object.values(KEYS)) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(createHash('sha256').update(key).digest('hex').slice(0, 8));
    }
  });
});

describe('what a streaming client receives', () => {
  it('has no usage chunk when it did not ask, and has it when it did', async () => {
    const quiet = await send({ key: 'team-a', stream: true, askedUsage: false, images: 0, maxTokens: 4 });
    const events = quiet.text.split('\n\n').filter((e) => e !== '');
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.some((e) => e.includes('"choices":[]'))).toBe(false);
    expect(events).toHaveLength(1 + 4 + 1);
    const asked = await send({ key: 'team-a', stream: true, askedUsage: true, images: 0, maxTokens: 4 });
    const usage = asked.text
      .split('\n\n')
      .find((e) => e.includes('"choices":[]'))
      ?.slice('data: '.length);
    expect(JSON.parse(usage ?? '{}').usage).toMatchObject({ completion_tokens: 4 });
  });
});
