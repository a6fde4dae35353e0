/**
 * Token counting under hostile text: the piece cache stays bounded whatever the inputs, and a
 * text far over the context is refused without counting all of it and without holding the event
 * loop (health probes keep being answered while it is counted).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tekkenizer } from '../../runtime-image/src/sidecar/tokens/tekken.ts';
import { TEKKEN_PATH, testTokenizer } from './oracle.ts';
import { type LimitsRig, MODEL, startLimitsRig } from './rig.ts';

/** Distinct random text: letters and spaces, so it splits into many distinct pieces. */
const randomText = (bytes: number, alphabet = 'abcdefghijklmnopqrstuvwxyz     '): string => {
  const random = randomBytes(bytes);
  let text = '';
  for (const b of random) text += alphabet[b % alphabet.length];
  return text;
};

describe('the piece cache', () => {
  it('stays within its byte bound over many distinct texts and skips long pieces', async () => {
    await testTokenizer(); // makes sure the tokenizer file is there
    const tokenizer = new Tekkenizer(readFileSync(TEKKEN_PATH), { maxCacheBytes: 1024 * 1024 });
    let peak = 0;
    for (let i = 0; i < 12; i++) {
      tokenizer.count(randomText(100_000));
      peak = Math.max(peak, tokenizer.cacheBytes);
    }
    expect(peak).toBeLessThanOrEqual(1024 * 1024);
    const before = tokenizer.cacheBytes;
    tokenizer.count(`x${'q'.repeat(5_000)}`); // one long piece
    expect(tokenizer.cacheBytes).toBe(before);
  });
});

describe('a text far over the context', () => {
  let rig: LimitsRig;
  beforeAll(async () => {
    rig = await startLimitsRig();
  });
  afterAll(() => rig.close());

  for (const [name, text] of [
    ['4 MB of words', () => randomText(4 * 1024 * 1024)],
    ['4 MB unbroken', () => randomText(4 * 1024 * 1024, 'abcdefghijklmnopqrstuvwxyz')],
  ] as const) {
    it(`refuses ${name} with the context error while /health keeps answering`, async () => {
      const body = JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: text() }],
        max_tokens: 16,
      });
      let refused = false;
      const answer = fetch(`${rig.sidecar.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then(async (res) => {
        refused = true;
        return {
          status: res.status,
          body: (await res.json()) as { error: { type: string; message: string } },
        };
      });
      // Health probes, one after the other, while the refusal is being worked out.
      let answeredMeanwhile = 0;
      while (!refused) {
        const health = await fetch(`${rig.sidecar.url}/health`);
        await health.arrayBuffer();
        if (!refused) answeredMeanwhile++;
      }
      const { status, body: error } = await answer;
      expect(status).toBe(400);
      expect(error.error.type).toBe('BadRequestError');
      expect(error.error.message).toContain('maximum context length is 131072 tokens');
      expect(answeredMeanwhile).toBeGreaterThan(1);
    });
  }
});
