/**
 * Runs the vLLM-compatible stub as its own process (benchmarks, local runs):
 *   node test/upstream-stub/main.ts --port 8000 --tokens 16 --token-interval-ms 20 --latency-ms 50
 *   node test/upstream-stub/main.ts --answer 'A canned answer.'   (its words are the tokens)
 * Prints one JSON line `{"url": ...}` on stdout once listening; stops on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { startUpstreamStub } from './stub.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    model: { type: 'string' },
    tokens: { type: 'string', default: '8' },
    'token-interval-ms': { type: 'string', default: '0' },
    'latency-ms': { type: 'string', default: '0' },
    answer: { type: 'string' },
  },
});

const int = (name: string, raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer, got "${raw}"`);
  return n;
};

const stub = await startUpstreamStub({
  port: int('port', values.port),
  tokens: int('tokens', values.tokens),
  tokenIntervalMs: int('token-interval-ms', values['token-interval-ms']),
  latencyMs: int('latency-ms', values['latency-ms']),
  ...(values.model === undefined ? {} : { model: values.model }),
  ...(values.answer === undefined ? {} : { answer: values.answer }),
});
process.stdout.write(`${JSON.stringify({ url: stub.url })}\n`);
const stop = (): void => {
  stub.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
