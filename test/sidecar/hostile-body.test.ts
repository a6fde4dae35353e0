import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, type Rig, startRig } from './harness.ts';

/** POSTs raw bytes to the chat route and returns the status and the parsed error body. */
async function post(rig: Rig, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...rig.headers(), ...headers },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: JSON.parse(text) as { error: Record<string, unknown> },
  };
}

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('hostile request bodies', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({
      config: { maxJsonDepth: 64, maxJsonValues: 10_000, headersTimeoutMs: 300, requestTimeoutMs: 600 },
    });
  });
  afterAll(() => rig.close());

  it('refuses deep nesting in a passed-through field with 400 naming the depth limit', async () => {
    const body = JSON.stringify(chatBody()).replace(/}$/, `,"response_format":${nested(4_400)}}`);
    const answer = await post(rig, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain('deeper than 64 levels');
    expect(answer.body.error.message).toContain('MAX_JSON_DEPTH');
  });

  it('refuses deep nesting in tool parameters (an 8 KB body) with 400, not a 500', async () => {
    const tools = `[{"type":"function","function":{"name":"f","parameters":{"a":${nested(3_100)}}}}]`;
    const body = JSON.stringify(chatBody()).replace(/}$/, `,"tools":${tools}}`);
    const answer = await post(rig, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.type).toBe('invalid_request_error');
  });

  it('refuses a body of many small values before parsing it, naming the limit', async () => {
    const many = `[${'{},'.repeat(20_000)}{}]`;
    const body = JSON.stringify(chatBody()).replace(/}$/, `,"metadata":${many}}`);
    const answer = await post(rig, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain('MAX_JSON_VALUES');
    expect(rig.stub.received.length).toBe(0);
  });

  it('does not count brackets and commas inside strings', async () => {
    const text = `${'[{,:'.repeat(30_000)}\\"[[[`;
    const answer = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: rig.headers(),
      body: JSON.stringify(chatBody()).replace('Describe the picture.', text),
    });
    expect(answer.status).toBe(200);
  });

  it('refuses invalid UTF-8 with 400', async () => {
    const body = Buffer.concat([
      Buffer.from(JSON.stringify(chatBody()).replace('Describe the picture.', 'caf')),
      Buffer.alloc(0),
    ]);
    const bad = Buffer.from(body.toString('latin1').replace('caf', 'caf\xff'), 'latin1');
    const answer = await post(rig, bad);
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toBe('The request body is not valid UTF-8.');
  });

  it('refuses a lone surrogate escape with 400 naming the field', async () => {
    const body = JSON.stringify(chatBody()).replace('Describe the picture.', 'a \\ud800 b');
    const answer = await post(rig, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.param).toBe('messages[0].content');
    // A pair is one character and passes.
    const pair = JSON.stringify(chatBody()).replace('Describe the picture.', '\\ud83d\\ude00');
    expect((await post(rig, pair)).status).toBe(200);
  });

  it('refuses a compressed body with 415 and accepts identity', async () => {
    const gzip = await post(rig, JSON.stringify(chatBody()), { 'content-encoding': 'gzip' });
    expect(gzip.status).toBe(415);
    expect(gzip.body.error.message).toContain('gzip');
    const identity = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...rig.headers(), 'content-encoding': 'identity' },
      body: JSON.stringify(chatBody()),
    });
    expect(identity.status).toBe(200);
  });

  it('closes the connection after refusing a request whose body it did not read', async () => {
    const { port } = new URL(rig.sidecar.url);
    const result = await new Promise<{ answer: string; sent: number }>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let answer = '';
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      socket.on('data', (data) => {
        answer += data.toString('latin1');
      });
      socket.on('error', () => {}); // a reset after the answer is the expected end too
      socket.on('close', () => resolve({ answer, sent }));
      socket.on('connect', () => {
        socket.write(
          `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${512 * 1024 * 1024}\r\n\r\n`,
        );
        const pump = (): void => {
          while (!socket.destroyed && sent < 512 * 1024 * 1024) {
            sent += chunk.length;
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
        };
        pump();
      });
      setTimeout(() => reject(new Error('the connection stayed open')), 10_000).unref();
    });
    expect(result.answer).toMatch(/^HTTP\/1.1 401 Unauthorized/);
    expect(result.sent).toBeLessThan(256 * 1024 * 1024);
  });

  it("names a slow client's 408 Request Timeout correctly", async () => {
    const { port } = new URL(rig.sidecar.url);
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (data) => {
        text += data.toString('latin1');
      });
      socket.on('close', () => resolve(text));
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1.1 408 Request Timeout\r\n/);
  });
});

/** vLLM-only request fields that change the prompt or cost the engine more than the request's output. */
const VLLM_ONLY_FIELDS = [
  'mm_processor_kwargs',
  'chat_template',
  'chat_template_kwargs',
  'prompt_logprobs',
  'kv_transfer_params',
  'priority',
  'guided_regex',
  'guided_json',
  'guided_choice',
  'guided_grammar',
  'guided_decoding_backend',
  'structured_outputs',
  'echo',
  'add_generation_prompt',
  'continue_final_message',
  'add_special_tokens',
  'documents',
  'truncate_prompt_tokens',
  'return_tokens_as_token_ids',
  'cache_salt',
  'logits_processors',
  'allowed_token_ids',
  'bad_words',
  'vllm_xargs',
  'use_beam_search',
  'length_penalty',
  'request_id',
  'media_io_kwargs',
  'return_token_ids',
];

describe('the request field allow-list', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ config: { extraRequestFields: ['priority'] } });
  });
  afterAll(() => rig.close());

  it.each(VLLM_ONLY_FIELDS.filter((f) => f !== 'priority'))(
    'refuses %s with 400 naming it',
    async (field) => {
      const answer = await post(rig, JSON.stringify(chatBody({ [field]: {} })));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ param: field, type: 'invalid_request_error' });
      expect(answer.body.error.message).toContain(`"${field}"`);
    },
  );

  it('forwards a field the deployment allows (EXTRA_REQUEST_FIELDS) and the OpenAI ones', async () => {
    const answer = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: rig.headers(),
      body: JSON.stringify(
        chatBody({
          priority: 0,
          response_format: { type: 'json_object' },
          tool_choice: 'auto',
          parallel_tool_calls: false,
          logit_bias: { '1000': -5 },
          top_k: 20,
          min_tokens: 1,
          stop_token_ids: [2],
          metadata: { team: 'a' },
        }),
      ),
    });
    expect(answer.status).toBe(200);
    expect(rig.stub.received.at(-1)?.body).toMatchObject({ priority: 0, top_k: 20, tool_choice: 'auto' });
  });
});

describe('the request memory budget', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({
      config: { requestMemoryBytes: 4 * 1024 * 1024 },
      stub: { tokens: 20, tokenIntervalMs: 50 },
    });
  });
  afterAll(() => rig.close());

  const padded = (bytes: number, extra: Record<string, unknown> = {}): string =>
    JSON.stringify(chatBody({ ...extra, messages: [{ role: 'user', content: 'x'.repeat(bytes) }] }));

  it('refuses a request that alone would cost more than the budget with 413 naming it', async () => {
    const answer = await post(rig, padded(1024 * 1024));
    expect(answer.status).toBe(413);
    expect(answer.body.error.message).toContain('REQUEST_MEMORY_BYTES');
  });

  it('answers 503 with Retry-After while other requests hold the budget, and admits again after', async () => {
    const first = fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: rig.headers(),
      body: padded(400 * 1024),
    });
    const second = fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: rig.headers(),
      body: padded(400 * 1024),
    });
    const statuses = await Promise.all(
      [first, second].map(async (p) => {
        const res = await p;
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
      }),
    );
    const refused = statuses.filter((s) => s.status === 503);
    expect(statuses.map((s) => s.status).sort()).toEqual([200, 503]);
    for (const r of refused) {
      expect(r.retryAfter).toBe('1');
      expect(r.body).toMatchObject({ error: { type: 'service_unavailable_error', code: 'server_busy' } });
    }
    const metrics = await (await fetch(`${rig.sidecar.url}/metrics`)).text();
    expect(metrics).toMatch(/^sidecar_request_memory_bytes 0$/m);
    expect((await post(rig, padded(400 * 1024))).status).toBe(200);
  });
});
