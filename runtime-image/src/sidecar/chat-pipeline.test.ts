/**
 * The chat pipeline's stages one by one, each on its own inputs; the relay stage and the composed
 * pipeline run against a real vLLM stand-in in test/sidecar.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyStore } from './auth.ts';
import {
  admitMemory,
  authenticate,
  checkHeaders,
  prepare,
  queue,
  type RequestContext,
  type RequestLog,
  readBody,
  validate,
} from './chat-pipeline.ts';
import type { RequestPreparer } from './chat-request.ts';
import { parseConfig } from './config.ts';
import { ApiError } from './errors.ts';
import { ConcurrencyLimiter } from './limiter.ts';
import { MemoryBudget } from './memory-budget.ts';
import { allowedRequestFields } from './schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'chat-pipeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const newLog = (): RequestLog => ({
  requestId: 't-1',
  listener: 'main',
  route: 'chat_completions',
  method: 'POST',
});
const config = parseConfig({ disableAuth: true, servedModelName: 'pixtral', maxBodyBytes: 1024 });

/** The refusal a stage throws, by reason and status. */
function refusal(run: () => unknown): { status: number; reason: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, reason: error.reason };
    throw error;
  }
  throw new Error('the stage passed');
}

async function refusalOf(promise: Promise<unknown>): Promise<{ status: number; reason: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return { status: error.status, reason: error.reason };
}

/** A request body as node:http hands it over: a readable stream with headers. */
function incoming(body: string, headers: Record<string, string> = {}): IncomingMessage {
  return Object.assign(Readable.from([Buffer.from(body)]), {
    headers: { 'content-length': String(Buffer.byteLength(body)), ...headers },
  }) as unknown as IncomingMessage;
}

describe('authenticate', () => {
  const file = join(dir, 'hashes');
  writeFileSync(file, `team-a:${createHash('sha256').update('sk-right').digest('hex')}\n`);
  const keys = new KeyStore({ file, reloadIntervalMs: 60_000, logger: pino({ level: 'silent' }) });

  it('lets a known key through and logs its id, never the key', () => {
    const log = newLog();
    authenticate(keys, 'Bearer sk-right', log);
    expect(log.keyId).toBe('team-a');
    expect(JSON.stringify(log)).not.toContain('sk-right');
  });

  it('answers 401 to a wrong or missing key', () => {
    expect(refusal(() => authenticate(keys, 'Bearer sk-wrong', newLog()))).toEqual({
      status: 401,
      reason: 'unauthorized',
    });
    expect(refusal(() => authenticate(keys, undefined, newLog())).status).toBe(401);
  });

  it('refuses a key it accepted before once a reload has removed it', () => {
    const rotating = join(dir, 'rotating');
    const hashOf = (key: string): string => createHash('sha256').update(key).digest('hex');
    writeFileSync(rotating, `old:${hashOf('sk-old')}\n`);
    const store = new KeyStore({
      file: rotating,
      reloadIntervalMs: 60_000,
      logger: pino({ level: 'silent' }),
    });
    authenticate(store, 'Bearer sk-old', newLog());
    authenticate(store, 'Bearer sk-old', newLog());
    writeFileSync(rotating, `new:${hashOf('sk-new')}\n`);
    store.reload();
    expect(refusal(() => authenticate(store, 'Bearer sk-old', newLog())).status).toBe(401);
    const log = newLog();
    authenticate(store, 'Bearer sk-new', log);
    expect(log.keyId).toBe('new');
  });

  it('asks nothing on a keyless listener', () => {
    const log = newLog();
    authenticate(undefined, undefined, log);
    expect(log.keyId).toBeUndefined();
  });
});

describe('checkHeaders', () => {
  it('takes uncompressed JSON', () => {
    checkHeaders({ 'content-type': 'application/json; charset=utf-8' });
    checkHeaders({ 'content-type': 'application/json', 'content-encoding': 'identity' });
  });

  it('answers 415 to another type or a compressed body', () => {
    expect(refusal(() => checkHeaders({ 'content-type': 'text/plain' }))).toEqual({
      status: 415,
      reason: 'unsupported_media_type',
    });
    expect(
      refusal(() => checkHeaders({ 'content-type': 'application/json', 'content-encoding': 'gzip' })),
    ).toEqual({
      status: 415,
      reason: 'unsupported_content_encoding',
    });
  });
});

describe('admitMemory and readBody', () => {
  const ctx = (): RequestContext => ({ log: newLog(), keys: undefined, controller: new AbortController() });

  it('reads and parses the body, holding its cost until released', async () => {
    const budget = new MemoryBudget(1 << 20, 1);
    const c = ctx();
    const admission = admitMemory(budget, c);
    expect(c.admission).toBe(admission);
    const value = await readBody(incoming('{"a":[1,2]}'), config, admission, c.log);
    expect(value).toEqual({ a: [1, 2] });
    expect(c.log.bytesIn).toBe(11);
    expect(budget.used).toBeGreaterThan(0);
    admission.release();
    expect(budget.used).toBe(0);
  });

  it('answers 413 past the body limit and 413 when the request alone exceeds the memory budget', async () => {
    const big = `"${'x'.repeat(2000)}"`;
    const wide = new MemoryBudget(1 << 20, 1);
    expect(await refusalOf(readBody(incoming(big), config, admitMemory(wide, ctx()), newLog()))).toEqual({
      status: 413,
      reason: 'body_too_large',
    });
    const tight = new MemoryBudget(50, 1);
    expect(
      await refusalOf(readBody(incoming('{"a":1234567890}'), config, admitMemory(tight, ctx()), newLog())),
    ).toEqual({
      status: 413,
      reason: 'request_over_memory_budget',
    });
  });

  it('answers 503 while other requests hold the budget', async () => {
    const budget = new MemoryBudget(200, 1);
    admitMemory(budget, ctx()).add(150);
    expect(
      await refusalOf(readBody(incoming('{"a":1234567890}'), config, admitMemory(budget, ctx()), newLog())),
    ).toEqual({
      status: 503,
      reason: 'memory_budget_exhausted',
    });
  });
});

describe('validate', () => {
  const fields = allowedRequestFields();
  const message = [{ role: 'user', content: 'hi' }];

  it('returns the request and logs whether it streams', () => {
    const log = newLog();
    const request = validate({ model: 'pixtral', messages: message, stream: true }, fields, 'pixtral', log);
    expect(request.messages).toEqual(message);
    expect(log.stream).toBe(true);
  });

  it('answers 400 to a field outside the allow-list and 404 to another model', () => {
    expect(
      refusal(() =>
        validate(
          { model: 'pixtral', messages: message, mm_processor_kwargs: {} },
          fields,
          'pixtral',
          newLog(),
        ),
      ).status,
    ).toBe(400);
    expect(
      refusal(() => validate({ model: 'gpt-4o', messages: message }, fields, 'pixtral', newLog())),
    ).toEqual({
      status: 404,
      reason: 'model_not_found',
    });
  });
});

describe('prepare', () => {
  it('hands the preparer the signal and the admission, and logs what it measured', async () => {
    const budget = new MemoryBudget(1 << 20, 1);
    const admission = budget.open();
    const signal = new AbortController().signal;
    const seen: unknown[] = [];
    const preparer: RequestPreparer = async (request, s, admit) => {
      seen.push(s);
      admit?.(100);
      return { request, imageCount: 2, promptTokens: 42 };
    };
    const log = newLog();
    const prepared = await prepare(preparer, { model: 'pixtral', messages: [] }, signal, admission, log);
    expect(prepared.imageCount).toBe(2);
    expect(seen).toEqual([signal]);
    expect(admission.bytes).toBe(100);
    expect(log).toMatchObject({ images: 2, promptTokens: 42 });
  });
});

describe('queue', () => {
  it('gives a free slot at once and answers 429 when the slots and the queue are full', async () => {
    const limiter = new ConcurrencyLimiter({
      max: 1,
      maxQueue: 0,
      queueTimeoutMs: 1000,
      retryAfterSeconds: 2,
    });
    const signal = new AbortController().signal;
    const release = await queue(limiter, signal);
    expect(await refusalOf(queue(limiter, signal))).toEqual({ status: 429, reason: 'queue_full' });
    release();
    (await queue(limiter, signal))();
  });
});
