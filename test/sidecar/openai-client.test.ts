import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, MODEL, type Rig, startRig } from './harness.ts';

describe('the sidecar seen through the official openai client', () => {
  let rig: Rig;
  let client: OpenAI;

  beforeAll(async () => {
    rig = await startRig({ stub: { tokens: 5 } });
    client = new OpenAI({ apiKey: rig.key, baseURL: `${rig.sidecar.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => rig.close());

  it('completes a non-stream request', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message.content).toBe('tok0 tok1 tok2 tok3 tok4 ');
    expect(completion.usage?.completion_tokens).toBe(5);
  });

  it('completes a stream request, usage chunk included', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('tok0 tok1 tok2 tok3 tok4 ');
    expect(usage?.completion_tokens).toBe(5);
  });

  it('completes a tool call round trip: the call, then the answer to its result', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather in a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.chat.completions.create({ model: MODEL, messages, tools });
    const asked = first.choices[0]?.message;
    const call = asked?.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');

    const second = await client.chat.completions.create({
      model: MODEL,
      tools,
      messages: [
        ...messages,
        asked as OpenAI.ChatCompletionAssistantMessageParam,
        { role: 'tool', tool_call_id: call?.id as string, content: '{"celsius": 21}' },
      ],
    });
    expect(second.choices[0]?.message.content).toBe('tok0 tok1 tok2 tok3 tok4 ');
  });

  it('lists the catalog model name', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it('relays a non-stream answer byte for byte', async () => {
    const res = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: rig.headers(),
      body: JSON.stringify(chatBody()),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toBe(rig.stub.received.at(-1)?.responseText);
  });

  it('forwards the validated request re-serialized, without the client key or headers', async () => {
    const res = await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...rig.headers(), 'x-forwarded-for': '10.0.0.1', cookie: 'a=b' },
      // A duplicate key: JSON.parse keeps the last one, and that is the one vLLM must see.
      body: `{"model":"${MODEL}","messages":[{"role":"user","content":"first"}],"messages":[{"role":"user","content":"second"}],"temperature":0.5}`,
    });
    await res.text();
    const seen = rig.stub.received.at(-1);
    expect(seen?.body).toEqual({
      model: MODEL,
      messages: [{ role: 'user', content: 'second' }],
      temperature: 0.5,
    });
    expect(seen?.headers.authorization).toBeUndefined();
    expect(seen?.headers.cookie).toBeUndefined();
    expect(seen?.headers['x-forwarded-for']).toBeUndefined();
  });

  it('never writes the key to its logs', () => {
    expect(rig.logs()).toContain('Handled request');
    expect(rig.logs()).not.toContain(rig.key);
  });
});
