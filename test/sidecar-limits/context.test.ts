/**
 * Context length over HTTP: prompt tokens (counted as mistral-common does) plus max_tokens must
 * fit maxContextLength, else a 400 with vLLM's wording and error shape; the stub sees nothing.
 * "Hello, world!" is 7 prompt tokens: <s> [INST] Hello , ␣world ! [/INST].
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUrl, type LimitsRig, MODEL, startLimitsRig } from './rig.ts';

let rig: LimitsRig;
beforeAll(async () => {
  rig = await startLimitsRig({ config: { maxContextLength: 10 } });
});
afterAll(() => rig.close());

const hello = (extra: Record<string, unknown>) => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'Hello, world!' }],
  ...extra,
});

describe('context length', () => {
  it('accepts a prompt and output that exactly fill the context', async () => {
    expect((await rig.chat(hello({ max_tokens: 3 }))).status).toBe(200);
  });

  it('refuses one token more with vLLM body, word for word', async () => {
    const before = rig.stub.received.length;
    const res = await rig.chat(hello({ max_tokens: 4 }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        message:
          "This model's maximum context length is 10 tokens. However, you requested 4 output tokens and your prompt contains at least 7 input tokens, for a total of at least 11 tokens. Please reduce the length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=7)",
        type: 'BadRequestError',
        param: 'input_tokens',
        code: 400,
      },
    });
    expect(rig.stub.received.length).toBe(before);
  });

  it('counts tool definitions in the prompt: 28 more tokens for one bare function', async () => {
    // mistral-common: <s>[AVAILABLE_TOOLS][{"type": "function", "function": {"name": "f",
    // "description": "", "parameters": {}}}][/AVAILABLE_TOOLS][INST]Hello, world![/INST] = 35.
    const res = await rig.chat(
      hello({ tools: [{ type: 'function', function: { name: 'f' } }], max_tokens: 1 }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('your prompt contains at least 35 input tokens');
  });

  it('reads max_completion_tokens before max_tokens, as vLLM does', async () => {
    expect((await rig.chat(hello({ max_tokens: 100, max_completion_tokens: 3 }))).status).toBe(200);
    expect((await rig.chat(hello({ max_tokens: 3, max_completion_tokens: 100 }))).status).toBe(400);
  });

  it('without max_tokens, refuses a prompt longer than the context with the engine wording', async () => {
    const res = await rig.chat({
      model: MODEL,
      messages: [{ role: 'user', content: 'one two three four five six seven eight' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(
      /^The decoder prompt \(length 11\) is longer than the maximum model length of 10\./,
    );
  });

  it('without max_tokens, refuses a prompt that fills the context exactly (no room for output)', async () => {
    const res = await rig.chat({
      model: MODEL,
      messages: [{ role: 'user', content: 'one two three four five six seven' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(
      /^The decoder prompt \(length 10\) plus the number of requested output tokens \(at least 1\) is longer than the maximum model length of 10\./,
    );
  });

  it('without max_tokens, accepts a prompt that leaves room for one token', async () => {
    expect((await rig.chat(hello({}))).status).toBe(200);
  });

  it('counts image tokens too: a 1x1 image costs 2 tokens ([IMG][IMG_END])', async () => {
    const body = (maxTokens: number) => ({
      model: MODEL,
      max_tokens: maxTokens,
      messages: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl('one-pixel.png') } }] },
      ],
    });
    // <s> [INST] [IMG] [IMG_END] [/INST] = 5 prompt tokens.
    expect((await rig.chat(body(5))).status).toBe(200);
    const res = await rig.chat(body(6));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('your prompt contains at least 5 input tokens');
  });
});
