/**
 * A vLLM-compatible upstream for tests, benchmarks and local runs (dev tooling, not shipped).
 *
 * It mirrors vLLM's OpenAI server (`vllm/entrypoints/openai/serving_chat.py`, `protocol.py`):
 * the same routes, the `chat.completion` / `chat.completion.chunk` objects, the first chunk
 * carrying `role`, a final usage chunk with empty `choices` when
 * `stream_options.include_usage` is set, `data: [DONE]`, and the error body
 * `{"error":{"message","type":"BadRequestError","param","code":<status>}}`.
 * Behaviour is configurable at runtime (latency, token rate, failures), and it records what it
 * received, including requests whose client went away mid-answer.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVllmMetrics, type VllmMetrics } from './vllm-metrics.ts';

/** What the stub does; mutate `stub.behaviour` between requests to change it. */
export interface StubBehaviour {
  /** The served model name vLLM was started with. */
  model: string;
  /** Delay before the response headers, in ms (prefill time). */
  latencyMs: number;
  /** Completion tokens to produce when the request has no max_tokens. */
  tokens: number;
  /** A canned answer: its words are the tokens (`tokens` is then ignored). Default `tok0 tok1 …`. */
  answer?: string;
  /** Delay between streamed tokens, in ms; 0 writes them back to back. */
  tokenIntervalMs: number;
  /** Answer every chat request with this vLLM error instead. */
  fail?: { status: number; message: string; type?: string; param?: string | null };
  /** Destroy the socket after this many streamed tokens (a crash mid-stream). */
  resetAfterTokens?: number;
  /** /health answers 503 while true (vLLM still loading). */
  starting: boolean;
}

/** One chat request as the stub saw it. */
export interface ReceivedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** True once the answer finished; false while running or if the client went away. */
  completed: boolean;
  /** True if the client closed the connection before the answer finished. */
  aborted: boolean;
  /** The exact non-stream response body sent, to check byte-identical relaying. */
  responseText?: string;
  /** The `usage` the answer reported (or would have, for a stream without include_usage). */
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** A running stub. */
export interface UpstreamStub {
  url: string;
  port: number;
  behaviour: StubBehaviour;
  /** Chat requests received, in order. */
  received: ReceivedRequest[];
  /** Chat requests currently being answered. */
  inFlight(): number;
  /** vLLM's metrics as the stub exports them on /metrics. */
  metrics: VllmMetrics;
  close(): Promise<void>;
}

const DEFAULTS: StubBehaviour = {
  model: 'mistral/pixtral-12b-2409:bf16',
  latencyMs: 0,
  tokens: 8,
  tokenIntervalMs: 0,
  starting: false,
};

const delay = (ms: number, res: ServerResponse): Promise<boolean> =>
  new Promise((resolve) => {
    if (ms <= 0) return resolve(!res.destroyed);
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once('close', onClose);
  });

function vllmError(
  res: ServerResponse,
  status: number,
  message: string,
  type = 'BadRequestError',
  param: string | null = null,
): void {
  const body = JSON.stringify({ error: { message, type, param, code: status } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A rough prompt size (4 characters a token, 1 token an image part) for `usage`. */
function promptTokens(messages: unknown): number {
  let chars = 0;
  for (const m of Array.isArray(messages) ? messages : []) {
    const content = (m as { content?: unknown }).content;
    if (typeof content === 'string') chars += content.length;
    else if (Array.isArray(content))
      for (const p of content) chars += typeof p?.text === 'string' ? p.text.length : 4;
  }
  return Math.max(1, Math.ceil(chars / 4));
}

/**
 * The call vLLM's mistral tool parser would return for a non-stream request that offers tools and
 * whose last message is the user's (not yet a tool result): the first tool, no arguments, and a
 * 9-character id as Mistral models write them. Streams always answer with text.
 */
function toolCallFor(body: Record<string, unknown>): Record<string, unknown> | undefined {
  const tools = body.tools as { function?: { name?: string } }[] | undefined;
  const messages = body.messages as { role?: string }[];
  const name = tools?.[0]?.function?.name;
  if (name === undefined || body.tool_choice === 'none' || messages.at(-1)?.role !== 'user') return undefined;
  const id = randomBytes(9)
    .toString('base64')
    .replace(/[^a-zA-Z0-9]/g, 'x')
    .slice(0, 9);
  return { id, type: 'function', function: { name, arguments: '{}' } };
}

async function chat(req: IncomingMessage, res: ServerResponse, stub: UpstreamStub): Promise<void> {
  const raw = await readBody(req);
  const record: ReceivedRequest = {
    path: req.url ?? '',
    headers: req.headers,
    body: undefined,
    completed: false,
    aborted: false,
  };
  stub.received.push(record);
  const started = performance.now();
  res.once('close', () => {
    if (!res.writableFinished) record.aborted = true;
  });
  const b = stub.behaviour;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw);
    record.body = body;
  } catch {
    return vllmError(res, 400, 'Invalid JSON body');
  }
  if (!Array.isArray(body.messages))
    return vllmError(res, 400, 'Field required', 'BadRequestError', 'messages');
  if (body.model !== b.model) {
    return vllmError(
      res,
      404,
      `The model \`${String(body.model)}\` does not exist.`,
      'NotFoundError',
      'model',
    );
  }
  if (b.fail) return vllmError(res, b.fail.status, b.fail.message, b.fail.type, b.fail.param ?? null);
  if (!(await delay(b.latencyMs, res))) return;

  const id = `chatcmpl-${randomBytes(16).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const maxTokens = (body.max_completion_tokens ?? body.max_tokens) as number | undefined;
  const canned = b.answer?.match(/\S+\s*/g) ?? undefined;
  const available = canned?.length ?? b.tokens;
  const count = Math.max(1, Math.min(maxTokens ?? available, available));
  const finish = maxTokens !== undefined && maxTokens <= available ? 'length' : 'stop';
  const usage = {
    prompt_tokens: promptTokens(body.messages),
    total_tokens: 0,
    completion_tokens: count,
    prompt_tokens_details: null,
  };
  usage.total_tokens = usage.prompt_tokens + count;
  record.usage = usage;
  const words = canned?.slice(0, count) ?? Array.from({ length: count }, (_, i) => `tok${i} `);
  const seconds = (ms: number): number => ms / 1000;
  let firstTokenAt = 0;
  const finished = (): void => {
    const end = performance.now();
    stub.metrics.finished({
      promptTokens: usage.prompt_tokens,
      completionTokens: count,
      firstTokenSeconds: seconds((firstTokenAt || end) - started),
      e2eSeconds: seconds(end - started),
    });
  };

  if (body.stream !== true) {
    const call = toolCallFor(body);
    const text = JSON.stringify({
      id,
      object: 'chat.completion',
      created,
      model: b.model,
      choices: [
        {
          index: 0,
          message: call
            ? { role: 'assistant', reasoning_content: null, content: null, tool_calls: [call] }
            : { role: 'assistant', reasoning_content: null, content: words.join(''), tool_calls: [] },
          logprobs: null,
          finish_reason: call ? 'tool_calls' : finish,
          stop_reason: null,
        },
      ],
      usage,
      prompt_logprobs: null,
      kv_transfer_params: null,
    });
    record.responseText = text;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    record.completed = true;
    finished();
    return;
  }

  const includeUsage =
    (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: b.model, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  res.write(
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
  );
  for (let i = 0; i < count; i++) {
    if (!(await delay(b.tokenIntervalMs, res))) return;
    if (b.resetAfterTokens !== undefined && i >= b.resetAfterTokens) {
      res.socket?.destroy();
      return;
    }
    const last = i === count - 1;
    if (i === 0) firstTokenAt = performance.now();
    const ok = res.write(
      chunk([
        {
          index: 0,
          delta: { content: words[i] },
          logprobs: null,
          finish_reason: last ? finish : null,
          ...(last ? { stop_reason: null } : {}),
        },
      ]),
    );
    if (!ok) await new Promise((resolve) => res.once('drain', resolve));
  }
  if (includeUsage) res.write(chunk([], { usage }));
  res.end('data: [DONE]\n\n');
  record.completed = true;
  finished();
}

function models(res: ServerResponse, b: StubBehaviour): void {
  const text = JSON.stringify({
    object: 'list',
    data: [
      {
        id: b.model,
        object: 'model',
        created: Math.floor(Date.now() / 1000),
        owned_by: 'vllm',
        root: '/weights',
        parent: null,
        max_model_len: 128_000,
        permission: [
          {
            id: `modelperm-${randomBytes(8).toString('hex')}`,
            object: 'model_permission',
            allow_sampling: true,
          },
        ],
      },
    ],
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts the stub on 127.0.0.1 (`port` 0 picks a free one). */
export async function startUpstreamStub(
  options: Partial<StubBehaviour> & { port?: number; host?: string } = {},
): Promise<UpstreamStub> {
  const { port: wanted = 0, host = '127.0.0.1', ...behaviour } = options;
  let server: Server;
  const stub: UpstreamStub = {
    url: '',
    port: 0,
    behaviour: { ...DEFAULTS, ...behaviour },
    received: [],
    inFlight: () => stub.received.filter((r) => !r.completed && !r.aborted).length,
    metrics: createVllmMetrics(() => stub.behaviour.model, {
      running: () => stub.inFlight(),
      // The stub answers every request at once: nothing ever waits for a batch slot.
      waiting: () => 0,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      chat(req, res, stub).catch(() => res.destroy());
    } else if (req.method === 'GET' && path === '/v1/models') {
      models(res, stub.behaviour);
    } else if (req.method === 'GET' && path === '/health') {
      res.writeHead(stub.behaviour.starting ? 503 : 200, { 'content-length': 0 });
      res.end();
    } else if (req.method === 'GET' && path === '/metrics') {
      stub.metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': stub.metrics.registry.contentType });
        res.end(text);
      });
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"detail":"Not Found"}');
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(wanted, host, resolve));
  stub.port = (server.address() as AddressInfo).port;
  stub.url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${stub.port}`;
  return stub;
}
