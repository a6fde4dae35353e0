/**
 * Runs the real entry point (main.ts) as a child process on loopback ports picked by the OS, and
 * reads its ports from the "Started sidecar" log line. Also a node:http stream client whose first
 * chunk and end the tests can await separately.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type ClientRequest, request } from 'node:http';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { TEKKEN_PATH } from '../sidecar-limits/oracle.ts';
import { chatBody } from './harness.ts';

/** A started main.ts. */
export interface MainProcess {
  child: ChildProcess;
  /** The main listener (SIDECAR_PORT). */
  url: string;
  /** The keyless listener (SIDECAR_NOAUTH_PORT), when the environment sets it. */
  noauthUrl?: string;
  lines: string[];
}

/** Spawns main.ts with `env` over loopback defaults (port 0, the test tokenizer's folder). */
export function spawnMain(env: Record<string, string>): { child: ChildProcess; stderr: () => string } {
  const child = spawn(
    process.execPath,
    [new URL('../../runtime-image/src/sidecar/main.ts', import.meta.url).pathname],
    {
      env: {
        ...process.env,
        SIDECAR_HOST: '127.0.0.1',
        SIDECAR_PORT: '0',
        WEIGHTS_DIR: dirname(TEKKEN_PATH),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  return { child, stderr: () => err };
}

/** Spawns main.ts and waits for its "Started sidecar" line; rejects if it exits first. */
export async function startMain(env: Record<string, string>): Promise<MainProcess> {
  const { child, stderr } = spawnMain(env);
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return new Promise<MainProcess>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sidecar exited with ${code}: ${stderr()}`)));
    reader.on('line', (line) => {
      lines.push(line);
      const entry = JSON.parse(line) as { msg: string; port?: number; noauthPort?: number };
      if (entry.msg !== 'Started sidecar') return;
      resolve({
        child,
        lines,
        url: `http://127.0.0.1:${entry.port}`,
        ...(entry.noauthPort === undefined ? {} : { noauthUrl: `http://127.0.0.1:${entry.noauthPort}` }),
      });
    });
  });
}

/** A streamed chat request. */
export interface OpenStream {
  /** The request: destroy it to disconnect, pause its socket to stop reading. */
  req: ClientRequest;
  /** Body chunks as they arrive. */
  chunks: string[];
  /** Settles at the first body bytes. */
  firstChunk: Promise<void>;
  /** The status and the whole text, once the response ends. */
  ended: Promise<{ status: number; text: string }>;
}

/** Opens a streamed chat request with node:http, so the caller controls when its socket reads or closes. */
export function openStream(url: string, headers: Record<string, string> = {}): OpenStream {
  const chunks: string[] = [];
  let first: () => void = () => {};
  const firstChunk = new Promise<void>((resolve) => {
    first = resolve;
  });
  const req = request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
  });
  const ended = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        chunks.push(chunk);
        first();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: chunks.join('') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.end(JSON.stringify(chatBody({ stream: true, max_tokens: undefined })));
  return { req, chunks, firstChunk, ended };
}
