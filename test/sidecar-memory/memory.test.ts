/**
 * The sidecar under hostile load, started as the pod starts it (environment, Node heap option and
 * memory limit from the operator's Deployment builder): every reproduction of the hostile-input
 * review, then four concurrent requests of twelve 3.9 MB PNGs. The process must survive, its
 * peak RSS stay under the container's memory limit, and /health answer every probe within the
 * readiness probe's own timeout throughout.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment } from '../../operator/src/builders/deployment.ts';
import { anOperatorConfig, aPixtralDeployment } from '../fixtures/pixtral-deployment.ts';
import { MODEL } from '../sidecar/harness.ts';
import { testTokenizer } from '../sidecar-limits/oracle.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { noisePng, type PodSidecar, startPodSidecar } from './pod.ts';

/** The readiness probe's timeout: a slower /health answer would fail the pod's readiness. */
const PROBE_TIMEOUT_MS =
  (deployment({ cr: aPixtralDeployment(), config: anOperatorConfig() }).spec?.template.spec?.containers.find(
    (c) => c.name === 'sidecar',
  )?.readinessProbe?.timeoutSeconds ?? 3) * 1000;

/** Health probes every 100 ms from a process of their own, so this test's own work cannot delay them. */
interface Prober {
  stop(): Promise<{ answered: number; failed: string[] }>;
}

function startProber(url: string): Prober {
  const script = `
    const failed = [];
    let answered = 0;
    process.on('SIGTERM', () => { process.stdout.write(JSON.stringify({ answered, failed })); process.exit(0); });
    for (;;) {
      try {
        const res = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(${PROBE_TIMEOUT_MS}) });
        await res.arrayBuffer();
        if (res.status === 200) answered++; else failed.push('status ' + res.status);
      } catch (error) { failed.push(String(error)); }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  let result: Promise<{ answered: number; failed: string[] }> | undefined;
  return {
    stop: () => {
      result ??= new Promise((resolve) => {
        child.once('exit', () => resolve(JSON.parse(out || '{"answered":0,"failed":["no report"]}')));
        child.kill('SIGTERM');
      });
      return result;
    },
  };
}

let stub: UpstreamStub;
let pod: PodSidecar;
let prober: Prober;
/** F7: a client that sends half its headers and stops; answered when the headers timeout fires. */
let slowClient: Promise<string>;

beforeAll(async () => {
  await testTokenizer(); // the real tokenizer file must be there
  stub = await startUpstreamStub({ tokens: 4 });
  pod = await startPodSidecar(stub.url);
  prober = startProber(`${pod.url}/health`);
  slowClient = new Promise((resolve) => {
    const socket = connect(Number(new URL(pod.url).port), '127.0.0.1');
    let text = '';
    socket.on('data', (data) => {
      text += data.toString('latin1');
    });
    socket.on('close', () => resolve(text));
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
  });
}, 60_000);

afterAll(async () => {
  await prober?.stop();
  await pod?.stop();
  await stub?.close();
});

/** POSTs `body` with the pod's key; resolves with the status and the error body, if any. */
async function post(body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${pod.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${pod.key}`, 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  stub.received.length = 0; // the stub keeps bodies; this test's own memory is not the point
  return {
    status: res.status,
    error: res.status === 200 ? undefined : (JSON.parse(text).error as { message: string }),
  };
}

const chat = (content: unknown, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 16, ...extra });

const words = (bytes: number): string => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz    ';
  let text = '';
  for (const b of randomBytes(bytes)) text += alphabet[b % alphabet.length];
  return text;
};

describe('the sidecar as the pod runs it, under hostile input', () => {
  it('F1: refuses 40 MB of small objects before parsing them', async () => {
    const body = chat('hi').replace(/}$/, `,"metadata":[${'{},'.repeat(13_000_000)}{}]}`);
    const answer = await post(body);
    expect(answer.status).toBe(400);
    expect(answer.error?.message).toContain('MAX_JSON_VALUES');
  }, 60_000);

  it('F2: refuses 16 distinct 500 KB texts over the context', async () => {
    for (let i = 0; i < 16; i++) expect((await post(chat(words(500_000)))).status).toBe(400);
  }, 120_000);

  it('F3: refuses a 4 MB unbroken text', async () => {
    const answer = await post(chat('q'.repeat(4 * 1024 * 1024)));
    expect(answer.status).toBe(400);
    expect(answer.error?.message).toContain('maximum context length');
  }, 60_000);

  it('F4: refuses 4,400 nested arrays and 3,100 in tool parameters', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect((await post(chat('hi').replace(/}$/, `,"stop":${deep(4_400)}}`))).status).toBe(400);
    const tools = `[{"type":"function","function":{"name":"f","parameters":{"a":${deep(3_100)}}}}]`;
    expect((await post(chat('hi').replace(/}$/, `,"tools":${tools}}`))).status).toBe(400);
  });

  it('F5: takes four concurrent requests of twelve 3.9 MB PNGs, answering each 200 or 503', async () => {
    const url = `data:image/png;base64,${noisePng(1_140).toString('base64')}`;
    const body = chat([
      { type: 'text', text: 'Compare these.' },
      ...Array.from({ length: 12 }, () => ({ type: 'image_url', image_url: { url } })),
    ]);
    const answers = await Promise.all(Array.from({ length: 4 }, () => post(body)));
    const statuses = answers.map((a) => a.status);
    expect(statuses).toContain(200);
    for (const status of statuses) expect([200, 503]).toContain(status);
  }, 120_000);

  it('F6: answers 401 to 512 MiB sent without a key, and closes the connection', async () => {
    const { port } = new URL(pod.url);
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      let text = '';
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let sent = 0;
      socket.on('data', (data) => {
        text += data.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(text));
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${512 * 1024 * 1024}\r\n\r\n`,
      );
      const pump = (): void => {
        while (!socket.destroyed && sent < 512 * 1024 * 1024) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    expect(answer).toMatch(/^HTTP\/1.1 401 /);
  }, 60_000);

  it('F7: answers a client too slow with its headers 408 Request Timeout', async () => {
    expect(await slowClient).toMatch(/^HTTP\/1.1 408 Request Timeout\r\n/);
  }, 30_000);

  it('F8: refuses a vLLM-only field that changes the image token count', async () => {
    const answer = await post(chat('hi', { mm_processor_kwargs: { max_image_size: 4096 } }));
    expect(answer.status).toBe(400);
    expect(answer.error?.message).toContain('mm_processor_kwargs');
  });

  it('F9: refuses gzip, invalid UTF-8 and lone surrogates', async () => {
    expect((await post(chat('hi'), { 'content-encoding': 'gzip' })).status).toBe(415);
    expect((await post(Buffer.from(chat('caf\u00e9'), 'latin1'))).status).toBe(400);
    expect((await post(chat('a').replace('"a"', '"\\ud800"'))).status).toBe(400);
  });

  it('survived all of it under its memory limit, answering /health throughout', async () => {
    expect(pod.alive()).toBe(true);
    expect(pod.peakRss()).toBeLessThan(pod.memoryLimitBytes);
    expect((await fetch(`${pod.url}/health`)).status).toBe(200);
    const probes = await prober.stop();
    expect(probes.failed).toEqual([]);
    expect(probes.answered).toBeGreaterThan(10);
  });
});
