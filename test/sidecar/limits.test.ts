import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/processes.ts';
import { chatBody, eventually, MODEL, type Rig, startRig } from './harness.ts';

const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };

async function post(rig: Rig, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...rig.headers(), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

function call(id: string, name = 'get_weather') {
  return { id, type: 'function', function: { name, arguments: '{"city": "Paris"}' } };
}

function withImages(count: number): Record<string, unknown> {
  return chatBody({
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Compare these.' }, ...Array(count - 1).fill(image)] },
      { role: 'user', content: [image] },
    ],
  });
}

describe('request limits', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ config: { maxBodyBytes: 16 * 1024 } });
  });
  afterAll(() => rig.close());

  it('refuses a body over the limit with 413 and never forwards it', async () => {
    const before = rig.stub.received.length;
    const answer = await post(
      rig,
      chatBody({ messages: [{ role: 'user', content: 'x'.repeat(20 * 1024) }] }),
    );
    expect(answer.status).toBe(413);
    expect(answer.json().error.message).toBe('The request body exceeds the limit of 16384 bytes.');
    expect(rig.stub.received.length).toBe(before);
  });

  it('accepts 12 images across messages and refuses 13 with 413 stating the limit', async () => {
    expect((await post(rig, withImages(12))).status).toBe(200);
    const answer = await post(rig, withImages(13));
    expect(answer.status).toBe(413);
    expect(answer.json().error).toMatchObject({
      message: 'At most 12 image(s) may be provided in one prompt; this request has 13.',
      code: 'too_many_images',
      param: 'messages',
    });
  });

  it.each([
    [
      'an audio part',
      { role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] },
      'Content part type "input_audio" is not supported; use "text" or "image_url". (at messages[0].content[0].type)',
    ],
    [
      'a video part',
      { role: 'user', content: [{ type: 'video_url', video_url: { url: 'https://x/v.mp4' } }] },
      'Content part type "video_url" is not supported; use "text" or "image_url". (at messages[0].content[0].type)',
    ],
    [
      'a tool message that answers no call',
      { role: 'tool', tool_call_id: 'abcdefghi', content: 'x' },
      'A tool message must follow the assistant message that called the tool, or another tool message. (at messages[0].role)',
    ],
    [
      'a tool message without tool_call_id',
      { role: 'tool', content: 'x' },
      'A tool message needs the tool_call_id of the call it answers. (at messages[0].tool_call_id)',
    ],
    [
      'tool calls on a user message',
      { role: 'user', content: null, tool_calls: [call('abcdefghi')] },
      'Only assistant messages carry tool_calls. (at messages[0].tool_calls)',
    ],
    [
      'an assistant message with both content and tool calls',
      { role: 'assistant', content: 'Let me check.', tool_calls: [call('abcdefghi')] },
      'An assistant message has either content or tool_calls, not both. (at messages[0].content)',
    ],
    [
      'a tool call id whose last 9 characters are not letters or digits',
      { role: 'assistant', content: null, tool_calls: [call('call_ab_cd_ef')] },
      'Tool call ids must end in 9 letters or digits (vLLM keeps the last 9 characters). (at messages[0].tool_calls[0].id)',
    ],
    [
      'a tool call to a function name with a space',
      { role: 'assistant', content: null, tool_calls: [call('abcdefghi', 'get weather')] },
      'Function names are 1 to 64 letters, digits, underscores or dashes. (at messages[0].tool_calls[0].function.name)',
    ],
    ['a content number', { role: 'user', content: 3 }, 'messages[0].content'],
  ])('refuses %s with 400 naming the field', async (_name, message, expected) => {
    const answer = await post(rig, chatBody({ messages: [message] }));
    expect(answer.status).toBe(400);
    expect(answer.json().error.message).toContain(expected);
  });

  it('forwards a tool conversation unchanged: definitions, calls with OpenAI-style ids, results', async () => {
    const body = chatBody({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [call('call_Z9yX8wV7uT6sR5qP4oN3mL2k')] },
        { role: 'tool', tool_call_id: 'call_Z9yX8wV7uT6sR5qP4oN3mL2k', content: '{"celsius": 21.5}' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      tool_choice: 'auto',
    });
    const before = rig.stub.received.length;
    const answer = await post(rig, body);
    expect(answer.status).toBe(200);
    expect(rig.stub.received[before]?.body).toEqual(body);
  });

  it('refuses a tool definition whose function name is not a Mistral function name', async () => {
    const answer = await post(
      rig,
      chatBody({ tools: [{ type: 'function', function: { name: 'get.weather' } }] }),
    );
    expect(answer.status).toBe(400);
    expect(answer.json().error.param).toBe('tools[0].function.name');
  });

  it.each([
    ['n above 8', { n: 1000 }, 'n'],
    ['a negative max_tokens', { max_tokens: -1 }, 'max_tokens'],
    ['temperature above 2', { temperature: 5 }, 'temperature'],
    ['no messages', { messages: [] }, 'messages'],
  ])('refuses %s with 400', async (_name, extra, param) => {
    const answer = await post(rig, chatBody(extra));
    expect(answer.status).toBe(400);
    expect(answer.json().error.param).toBe(param);
  });

  it('refuses a model other than the served one with 404', async () => {
    const answer = await post(rig, chatBody({ model: 'gpt-4o' }));
    expect(answer.status).toBe(404);
    expect(answer.json().error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('refuses invalid JSON with 400 and a non-JSON content type with 415', async () => {
    expect((await post(rig, '{"model":')).status).toBe(400);
    expect((await post(rig, JSON.stringify(chatBody()), { 'content-type': 'text/plain' })).status).toBe(415);
    expect(
      (await post(rig, JSON.stringify(chatBody()), { 'content-type': 'application/json garbage' })).status,
    ).toBe(415);
    expect(
      (await post(rig, JSON.stringify(chatBody()), { 'content-type': 'Application/JSON; charset=UTF-8' }))
        .status,
    ).toBe(200);
  });

  it('counts refusals by reason in /metrics', async () => {
    const text = await (await fetch(`${rig.sidecar.url}/metrics`)).text();
    expect(text).toMatch(/sidecar_refusals_total\{reason="too_many_images"\} [1-9]/);
    expect(text).toMatch(
      /sidecar_requests_total\{route="chat_completions",status="413",listener="main"\} [1-9]/,
    );
  });
});

describe('concurrency cap', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ config: { maxConcurrentUpstream: 1, maxQueue: 1 }, stub: { latencyMs: 1_000 } });
  });
  afterAll(() => rig.close());

  it('queues past the cap and answers 429 with Retry-After past the queue', async () => {
    const running = post(rig, chatBody());
    await eventually(() => expect(rig.stub.received.length).toBe(1));
    const queued = post(rig, chatBody());
    await eventually(async () => {
      const text = await (await fetch(`${rig.sidecar.url}/metrics`)).text();
      expect(text).toContain('sidecar_queue_length 1');
    });
    const refused = await post(rig, chatBody());
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json().error.type).toBe('rate_limit_error');
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
    expect(rig.stub.received.length).toBe(2);
  });
});

describe('upstream failures', () => {
  it('answers 503 with Retry-After when the model server is not listening', async () => {
    const closedPort = await freePort();
    const down = await startRig({ config: { upstreamUrl: `http://127.0.0.1:${closedPort}` } });
    try {
      const answer = await post(down, chatBody());
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.json().error.type).toBe('service_unavailable_error');
      expect((await fetch(`${down.sidecar.url}/health`)).status).toBe(503);
    } finally {
      await down.close();
    }
  });

  it('answers 504 when the model server does not answer in time', async () => {
    const rig = await startRig({ config: { upstreamHeadersTimeoutMs: 200 }, stub: { latencyMs: 2_000 } });
    try {
      const answer = await post(rig, chatBody());
      expect(answer.status).toBe(504);
      expect(answer.json().error.type).toBe('server_error');
    } finally {
      await rig.close();
    }
  });

  it("passes vLLM's own errors through unchanged", async () => {
    const rig = await startRig({
      stub: { fail: { status: 400, message: 'At most 12 image(s) may be provided in one prompt.' } },
    });
    try {
      const answer = await post(rig, chatBody());
      expect(answer.status).toBe(400);
      expect(answer.json()).toEqual({
        error: {
          message: 'At most 12 image(s) may be provided in one prompt.',
          type: 'BadRequestError',
          param: null,
          code: 400,
        },
      });
    } finally {
      await rig.close();
    }
  });

  it('reports ready only while the model server answers /health', async () => {
    const rig = await startRig({ config: { healthCacheMs: 0 } });
    try {
      expect((await fetch(`${rig.sidecar.url}/health`)).status).toBe(200);
      rig.stub.behaviour.starting = true;
      expect((await fetch(`${rig.sidecar.url}/health`)).status).toBe(503);
    } finally {
      await rig.close();
    }
  });
});

describe('the models route', () => {
  it('needs a key and answers with the catalog name', async () => {
    const rig = await startRig();
    try {
      expect((await fetch(`${rig.sidecar.url}/v1/models`)).status).toBe(401);
      const res = await fetch(`${rig.sidecar.url}/v1/models`, { headers: rig.headers() });
      const list = (await res.json()) as { data: unknown[] };
      expect(list.data[0]).toMatchObject({ id: MODEL, object: 'model' });
    } finally {
      await rig.close();
    }
  });
});
