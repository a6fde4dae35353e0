import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, requestLineWriter } from './logger.ts';

/** A logger at `level` whose lines are collected, with the time replaced so lines compare. */
function capture(level: 'info' | 'debug') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk).replace(/"time":\d+/, '"time":0'));
      done();
    },
  });
  return { logger: createLogger(level, destination), lines };
}

const fields = {
  requestId: 'abc-1',
  listener: 'main',
  route: 'chat_completions',
  method: 'POST',
  keyId: 'team "a"\n',
  stream: false,
  images: 0,
  promptTokens: 17,
  status: 200,
  durationMs: 1.2,
  reason: undefined,
};

describe('the request line', () => {
  it('is the line pino writes for the same fields and message, to the byte', async () => {
    const ours = capture('info');
    const theirs = capture('info');
    requestLineWriter(ours.logger, 'Handled request')('info', fields);
    theirs.logger.child({}, { redact: [] }).info(fields, 'Handled request');
    await new Promise((resolve) => setImmediate(resolve));
    expect(ours.lines).toEqual(theirs.lines);
    expect(JSON.parse(ours.lines[0] as string)).toMatchObject({
      level: 30,
      component: 'sidecar',
      keyId: 'team "a"\n',
    });
  });

  it('follows the logger level: debug lines only when debug is on', async () => {
    const info = capture('info');
    const debug = capture('debug');
    requestLineWriter(info.logger, 'Handled request')('debug', fields);
    requestLineWriter(debug.logger, 'Handled request')('debug', fields);
    await new Promise((resolve) => setImmediate(resolve));
    expect(info.lines).toEqual([]);
    expect(JSON.parse(debug.lines[0] as string)).toMatchObject({ level: 20, msg: 'Handled request' });
  });
});
