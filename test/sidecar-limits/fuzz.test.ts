/**
 * Property-based fuzzing of the sidecar with its full preparer (real tokenizer, real image
 * checks) in front of the stub: whatever a client sends, over the body, schema, image and token
 * paths, the answer is never a 5xx, the process never throws, and every refusal is an OpenAI
 * error body. Runs are few and seeded per run by fast-check (it prints the seed of a failure).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUrl, type LimitsRig, MODEL, startLimitsRig } from './rig.ts';

let rig: LimitsRig;
beforeAll(async () => {
  rig = await startLimitsRig({ config: { maxContextLength: 4_096, maxJsonDepth: 32, maxJsonValues: 5_000 } });
});
afterAll(() => rig.close());

/** POSTs raw bytes and checks the answer's shape; resolves with the status. */
async function send(body: string | Uint8Array, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  expect(res.status, text).toBeLessThan(500);
  if (res.status !== 200) expectOpenAiError(text);
  return res.status;
}

function expectOpenAiError(text: string): void {
  const body = JSON.parse(text) as { error?: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  const error = body.error as Record<string, unknown>;
  expect(typeof error.message).toBe('string');
  expect((error.message as string).length).toBeGreaterThan(0);
  expect(typeof error.type).toBe('string');
  expect(error.param === null || typeof error.param === 'string').toBe(true);
  expect(error.code === null || typeof error.code === 'string' || typeof error.code === 'number').toBe(true);
}

// Strings from all of Unicode, lone surrogates included (JSON.stringify escapes them).
const anyText = fc.string({ unit: 'binary', maxLength: 200 });
const anyJson = fc.jsonValue({ maxDepth: 6 });

const png = dataUrl('photo.png');
const imageUrl = fc.oneof(
  fc.constant(png),
  fc.constant(dataUrl('huge-header.png')),
  fc.constant(dataUrl('animated.gif', 'image/gif')),
  fc.constant(dataUrl('image.bmp', 'image/bmp')),
  fc.constant(png.slice(0, 200)), // truncated image
  fc.uint8Array({ maxLength: 64 }).map((b) => `data:image/png;base64,${Buffer.from(b).toString('base64')}`),
  anyText.map((t) => `data:${t}`),
  fc.constant('http://127.0.0.1:1/x.png'), // refused by the SSRF guard, never fetched
  anyText,
);

const part = fc.oneof(
  fc.record({ type: fc.constant('text'), text: anyText }),
  fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: imageUrl }) }),
  fc.record({ type: fc.constantFrom('input_audio', 'video_url', 'file', ''), data: anyJson }),
  anyJson,
);

const toolCall = fc.record({
  id: fc.oneof(fc.constant('call_abcdefghi'), fc.stringMatching(/^[A-Za-z0-9]{9}$/), anyText),
  type: fc.constant('function'),
  function: fc.record({
    name: fc.oneof(fc.constant('get_weather'), anyText),
    arguments: fc.oneof(
      anyJson.map((v) => JSON.stringify(v)),
      anyText,
    ),
  }),
});

const message = fc.record(
  {
    role: fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer', ''),
    content: fc.oneof(anyText, fc.array(part, { maxLength: 4 }), fc.constant(null), anyJson),
    tool_calls: fc.array(toolCall, { maxLength: 2 }),
    tool_call_id: fc.oneof(fc.constant('abcdefghi'), anyText),
    name: anyText,
  },
  { requiredKeys: ['role', 'content'] },
);

const tool = fc.record({
  type: fc.constantFrom('function', 'retrieval'),
  function: fc.record(
    {
      name: fc.oneof(fc.constant('lookup'), anyText),
      description: anyText,
      parameters: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 8 })), anyJson),
    },
    { requiredKeys: ['name'] },
  ),
});

// A valid request, then (two times in three) one field of it replaced by anything.
const text = fc.string({ unit: 'grapheme', maxLength: 200 });
const validImage = fc.constantFrom(png, dataUrl('baseline.jpg', 'image/jpeg'), dataUrl('lossy.webp'));
const validUser = fc.record({
  role: fc.constant('user'),
  content: fc.oneof(
    text,
    fc.array(
      fc.oneof(
        fc.record({ type: fc.constant('text'), text }),
        fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: validImage }) }),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  ),
});
const validTool = fc.record({
  type: fc.constant('function'),
  function: fc.record({
    name: fc.stringMatching(/^[a-zA-Z0-9_-]{1,64}$/),
    description: text,
    parameters: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 6 }), { maxKeys: 5 }),
  }),
});
const validRequest = fc.record({
  model: fc.constant(MODEL),
  messages: fc
    .tuple(
      fc.option(fc.record({ role: fc.constant('system'), content: text })),
      fc.option(
        fc.tuple(
          validUser,
          fc.record({ role: fc.constant('assistant'), content: text.filter((t) => t !== '') }),
        ),
      ),
      validUser,
    )
    .map(([system, turn, user]) => [...(system ? [system] : []), ...(turn ?? []), user]),
  tools: fc.array(validTool, { maxLength: 2 }),
  max_tokens: fc.integer({ min: 1, max: 64 }),
  stream: fc.boolean(),
});

const mutation = fc.oneof(
  fc.tuple(
    fc.constantFrom(
      'model',
      'messages',
      'tools',
      'max_tokens',
      'stream',
      'temperature',
      'n',
      'tool_choice',
      'logit_bias',
      'top_k',
      'mm_processor_kwargs',
      'chat_template',
    ),
    fc.oneof(anyJson, anyText),
  ),
  fc.tuple(fc.constant('message'), message),
  fc.tuple(fc.constant('part'), part),
  fc.tuple(fc.constant('tool'), tool),
);

type Body = { messages: Record<string, unknown>[]; tools: unknown[] } & Record<string, unknown>;
const request = fc.tuple(validRequest, fc.option(mutation, { freq: 2 })).map(([valid, change]) => {
  const body = structuredClone(valid) as Body;
  if (change === null) return body;
  const [where, value] = change;
  const last = body.messages.at(-1) as Record<string, unknown>;
  if (where === 'message') body.messages.push(value as Record<string, unknown>);
  else if (where === 'part') last.content = [...(Array.isArray(last.content) ? last.content : []), value];
  else if (where === 'tool') body.tools.push(value);
  else (body as Record<string, unknown>)[where] = value;
  return body;
});

describe('fuzzing the chat route', () => {
  it('answers any request shape with a 200 or an OpenAI-shaped 4xx', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (body) => {
        const status = await send(JSON.stringify(body));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }),
      { numRuns: 200 },
    );
    // Both sides were exercised: requests that reached vLLM and refusals.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(10);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(10);
  });

  it('answers any JSON value, and any bytes, with a 4xx in the OpenAI shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 40 }).map((v) => JSON.stringify(v)),
          fc.uint8Array({ maxLength: 512 }),
          fc
            .nat({ max: 200 })
            .map((depth) => `{"model":"${MODEL}","messages":${'['.repeat(depth)}${']'.repeat(depth)}}`),
        ),
        fc.constantFrom(undefined, 'gzip', 'identity', 'br, gzip'),
        async (body, encoding) => {
          const status = await send(body, encoding === undefined ? {} : { 'content-encoding': encoding });
          expect(status).not.toBe(200);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('counts any text, Unicode and long runs included, without a 5xx', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 3_000 }),
      fc.string({ unit: 'grapheme', maxLength: 3_000 }),
      fc
        .tuple(fc.string({ minLength: 1, maxLength: 3 }), fc.nat({ max: 40_000 }))
        .map(([s, n]) => s.repeat(n)),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.integer({ min: 1, max: 4_096 }), async (content, maxTokens) => {
        const status = await send(
          JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: maxTokens }),
        );
        expect([200, 400]).toContain(status);
      }),
      { numRuns: 80 },
    );
  });

  it('still answers /health after the fuzzing', async () => {
    expect((await fetch(`${rig.sidecar.url}/health`)).status).toBe(200);
  });
});
