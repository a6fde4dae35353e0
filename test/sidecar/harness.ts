/**
 * Starts a sidecar in front of a real stub over 127.0.0.1, with its key-hash file laid out the
 * way kubelet writes a mounted Secret (timestamped folder, `..data` symlink, file symlink), so
 * rotation can be reproduced exactly.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { SidecarConfigInput } from '../../runtime-image/src/sidecar/config.ts';
import { createLogger } from '../../runtime-image/src/sidecar/logger.ts';
import { createSidecar, type Sidecar } from '../../runtime-image/src/sidecar/server.ts';
import { type StubBehaviour, startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { basicPreparer } from './basic-preparer.ts';

/** The served model name. */
export const MODEL = 'mistral/pixtral-12b-2409:bf16';

/** A fresh API key in the generated format. */
export function newKey(): string {
  return `pxd_${randomBytes(32).toString('base64url')}`;
}

/** The hex SHA-256 of a key, as the hash file stores it. */
export function hashOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A folder laid out like a mounted Secret, with an atomic update like kubelet's. */
export class SecretDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'sidecar-keys-'));
  readonly file = join(this.dir, 'key-hashes');
  private generation = 0;

  constructor(content: string) {
    this.update(content);
    symlinkSync('..data/key-hashes', this.file);
  }

  /** Writes a new timestamped folder and swaps `..data` to it in one rename. */
  update(content: string): void {
    const name = `..gen_${++this.generation}`;
    mkdirSync(join(this.dir, name));
    writeFileSync(join(this.dir, name, 'key-hashes'), content);
    let old: string | undefined;
    try {
      old = readlinkSync(join(this.dir, '..data'));
    } catch {}
    symlinkSync(name, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (old !== undefined) rmSync(join(this.dir, old), { recursive: true });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A sidecar, its stub, a valid key, and the log lines it wrote. */
export interface Rig {
  sidecar: Sidecar;
  stub: UpstreamStub;
  key: string;
  secret: SecretDir;
  logs(): string;
  /** Headers for an authenticated JSON request. */
  headers(key?: string): Record<string, string>;
  close(): Promise<void>;
}

/** Starts a stub and a sidecar in front of it; `config` overrides the test defaults. */
export async function startRig(
  options: { config?: Partial<SidecarConfigInput>; stub?: Partial<StubBehaviour> } = {},
): Promise<Rig> {
  const stub = await startUpstreamStub(options.stub);
  const key = newKey();
  const secret = new SecretDir(`# keys\nfirst:${hashOf(key)}\n`);
  const { logger, logs } = captureLogs();
  const config = {
    host: '127.0.0.1',
    port: 0,
    upstreamUrl: stub.url,
    apiKeyHashesFile: secret.file,
    keyReloadIntervalMs: 200,
    ...options.config,
  } satisfies SidecarConfigInput;
  const sidecar = await createSidecar(config, {
    preparer: basicPreparer({ maxImagesPerRequest: config.maxImagesPerRequest ?? 12 }),
    logger,
    processMetrics: false,
  });
  return {
    sidecar,
    stub,
    key,
    secret,
    logs,
    headers: (k = key) => ({ authorization: `Bearer ${k}`, 'content-type': 'application/json' }),
    close: async () => {
      await sidecar.shutdown(0);
      await stub.close();
      secret.remove();
    },
  };
}

/** A small valid chat request body. */
export function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: MODEL,
    messages: [{ role: 'user', content: 'Describe the picture.' }],
    max_tokens: 8,
    ...extra,
  };
}

/** Polls `check` until it stops throwing, or rethrows its last error after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A debug-level sidecar logger whose JSON lines the test can read back. */
export function captureLogs(): { logger: ReturnType<typeof createLogger>; logs: () => string } {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { logger: createLogger('debug', sink), logs: () => text };
}
