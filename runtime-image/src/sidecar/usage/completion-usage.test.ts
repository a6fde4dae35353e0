import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstreamStub, type UpstreamStub } from '../../../../test/upstream-stub/stub.ts';
import type { ChatCompletionRequest } from '../chat-request.ts';
import { CompletionUsage, requestUsage } from './completion-usage.ts';

let stub: UpstreamStub;
beforeAll(async () => {
  stub = await startUpstreamStub({ tokens: 7 });
});
afterAll(() => stub.close());

const chat = (extra: Record<string, unknown> = {}): ChatCompletionRequest => ({
  model: 'mistral/pixtral-12b-2409:bf16',
  messages: [{ role: 'user', content: 'Describe the picture.' }],
  ...extra,
});

/** The stub's raw answer bytes to `request` (a vLLM-shaped body or SSE stream). */
async function answer(request: ChatCompletionRequest): Promise<Buffer> {
  const res = await fetch(`${stub.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  return Buffer.from(await res.arrayBuffer());
}

/** Feeds `bytes` cut at `cuts` and returns what the client would get, and the count read. */
function relay(bytes: Buffer, cuts: number[], options: ConstructorParameters<typeof CompletionUsage>[0]) {
  const usage = new CompletionUsage(options);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    out.push(usage.data(bytes.subarray(from, to)));
    from = to;
  }
  const rest = usage.end();
  if (rest) out.push(rest);
  return { text: Buffer.concat(out).toString('utf8'), completionTokens: usage.completionTokens };
}

/** Every way to cut the bytes in two, and byte by byte. */
const everyCut = (length: number): number[][] => [
  ...Array.from({ length: length - 1 }, (_, i) => [i + 1]),
  Array.from({ length: length - 1 }, (_, i) => i + 1),
];

describe('requestUsage', () => {
  it('asks vLLM for usage in a stream that did not, keeping the client’s other stream options', () => {
    const { request, stripUsageChunk } = requestUsage(
      chat({ stream: true, stream_options: { continuous_usage_stats: true, other: 1 } }),
    );
    // continuous_usage_stats does nothing without include_usage: it stays without effect.
    expect(request.stream_options).toEqual({ other: 1, continuous_usage_stats: false, include_usage: true });
    expect(stripUsageChunk).toBe(true);
  });

  it('leaves a request alone when it is not a stream or already asks for usage', () => {
    const plain = chat();
    expect(requestUsage(plain)).toEqual({ request: plain, stripUsageChunk: false });
    const asked = chat({ stream: true, stream_options: { include_usage: true } });
    expect(requestUsage(asked)).toEqual({ request: asked, stripUsageChunk: false });
  });
});

describe('CompletionUsage', () => {
  it('reads completion_tokens from a JSON answer wherever the chunks are cut', async () => {
    const bytes = await answer(chat({ max_tokens: 5 }));
    for (const cuts of [[], ...everyCut(bytes.length)]) {
      const { text, completionTokens } = relay(bytes, cuts, { stream: false, stripUsageChunk: false });
      expect(text).toBe(bytes.toString('utf8'));
      expect(completionTokens).toBe(5);
    }
  });

  it('reads the count of the last usage object in other layouts too: spaces, newlines, a nested object first', () => {
    const bodies: Array<[string, number | undefined]> = [
      ['{"usage":{"prompt_tokens":3,"completion_tokens":12,"total_tokens":15}}', 12],
      ['{"usage":{"prompt_tokens":3,"completion_tokens": 12}}', 12],
      ['{"usage":{"prompt_tokens":3,"completion_tokens":\n 12}}', 12],
      ['{"usage":{"prompt_tokens_details":{"cached_tokens":1},"completion_tokens":9}}', undefined],
      ['{"a":{"usage":{"completion_tokens":1}},"usage":{"completion_tokens":40}}', 40],
      ['{"usage":{"completion_tokens":null}}', undefined],
    ];
    for (const [body, expected] of bodies) {
      const usage = new CompletionUsage({ stream: false, stripUsageChunk: false });
      usage.data(Buffer.from(body));
      expect(usage.completionTokens, body).toBe(expected);
    }
  });

  it('drops the usage chunk it asked for and passes every other event unchanged, wherever the chunks are cut', async () => {
    const { request } = requestUsage(chat({ stream: true }));
    const bytes = await answer(request);
    const events = bytes.toString('utf8').split('\n\n');
    const withoutUsage = events.filter((e) => !e.includes('"choices":[]')).join('\n\n');
    expect(withoutUsage.length).toBeLessThan(bytes.length);
    for (const cuts of [[], ...everyCut(bytes.length)]) {
      const { text, completionTokens } = relay(bytes, cuts, { stream: true, stripUsageChunk: true });
      expect(text).toBe(withoutUsage);
      expect(completionTokens).toBe(7);
    }
    const byteByByte = relay(
      bytes,
      Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
      {
        stream: true,
        stripUsageChunk: true,
      },
    );
    expect(byteByByte.text).toBe(withoutUsage);
  });

  it('keeps the usage chunk the client asked for, and reads it', async () => {
    const bytes = await answer(
      chat({ stream: true, stream_options: { include_usage: true }, max_tokens: 3 }),
    );
    for (const cuts of [[], ...everyCut(bytes.length)]) {
      const { text, completionTokens } = relay(bytes, cuts, { stream: true, stripUsageChunk: false });
      expect(text).toBe(bytes.toString('utf8'));
      expect(completionTokens).toBe(3);
    }
  });

  it('passes a stream that is not SSE through untouched once it cannot be an event', () => {
    const junk = Buffer.alloc(2 << 20, 'x');
    const { text, completionTokens } = relay(junk, [1 << 19, 3 << 19], {
      stream: true,
      stripUsageChunk: true,
    });
    expect(text.length).toBe(junk.length);
    expect(completionTokens).toBeUndefined();
  });
});
