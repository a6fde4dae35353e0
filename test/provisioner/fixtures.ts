/**
 * Test fixtures: generated weight files and a runner for the real `provision-weights` command.
 *
 * The files (a 256 MiB `consolidated.safetensors` of random bytes plus small `params.json` and
 * `tekken.json`) are generated once into a shared temp folder, atomically, and reused by every test
 * file and later runs: generating them costs more than most tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { gitBlobId, type HubFile, type HubServer, startHub } from './hub-server.ts';

export { gitBlobId };

import { writeRandomFile } from './random-file.ts';

/** The model files the tests serve. */
export const BIG_FILE = 'consolidated.safetensors';
const BIG_SIZE = 256 * 1024 * 1024;
const FIXTURE_DIR = join(tmpdir(), 'pixtral-provisioner-fixtures-v1');
const MAIN = resolve(import.meta.dirname, '../../runtime-image/src/provisioner/main.ts');

/** The file the hub keeps in plain git (no LFS): verified by its git blob id. */
export const PLAIN_FILE = 'params.json';

/** How the hub stores a generated file: params.json in plain git, the rest with LFS (as on the real hub). */
function withHubIds(files: HubFile[]): HubFile[] {
  return files.map((f) => ({ ...f, lfs: f.name !== PLAIN_FILE }));
}

/** Returns the generated files, creating them on first use. */
export async function weightFiles(): Promise<HubFile[]> {
  const index = join(FIXTURE_DIR, 'index.json');
  if (existsSync(index)) return withHubIds(JSON.parse(await readFile(index, 'utf8')));
  const building = `${FIXTURE_DIR}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await mkdir(building, { recursive: true });
  const files: HubFile[] = [];
  const params = Buffer.from(JSON.stringify({ dim: 5120, n_layers: 40, vision_encoder: { patch_size: 16 } }));
  const tekken = Buffer.from(
    JSON.stringify({ config: { pattern: 'test' }, vocab: randomBytes(96 * 1024).toString('base64') }),
  );
  for (const [name, content] of [
    ['params.json', params],
    ['tekken.json', tekken],
  ] as const) {
    await writeFile(join(building, name), content);
    files.push({ name, path: join(FIXTURE_DIR, name), size: content.length, sha256: sha256(content) });
  }
  files.push({
    name: BIG_FILE,
    path: join(FIXTURE_DIR, BIG_FILE),
    size: BIG_SIZE,
    sha256: await writeRandomFile(join(building, BIG_FILE), BIG_SIZE),
  });
  await writeFile(join(building, 'index.json'), JSON.stringify(files));
  // Another test file may have won the race; its copy is as good as ours.
  await rename(building, FIXTURE_DIR).catch(() => rm(building, { recursive: true, force: true }));
  return withHubIds(JSON.parse(await readFile(index, 'utf8')));
}

/** SHA-256 hex of a buffer. */
export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The spec the operator would pass for these files, from the hub or from the plain mirror. */
export function specFor(hub: HubServer, files: HubFile[], kind: 'hub' | 'url' = 'hub') {
  return {
    model: 'mistral/pixtral-12b-2409:bf16',
    source:
      kind === 'hub'
        ? {
            kind: 'hub',
            repo: 'mistralai/Pixtral-12B-2409',
            revision: 'b1ca26d8fd4ba4e8b0ce6c6ab0c3b1a8d1b0d1f2',
          }
        : { kind: 'url', baseUrl: hub.mirrorUrl },
    // As the catalog pins them: SHA-256 for LFS files (from the hub), nothing for the plain file.
    files: files.map(({ name, size, sha256, lfs }) =>
      lfs !== false || kind === 'url' ? { name, size, sha256 } : { name, size },
    ),
  };
}

/** One test's folders: the weights target (not created: the provisioner does it) and a termination log. */
export interface Workspace {
  dir: string;
  target: string;
  terminationLog: string;
}

/** A fresh temp workspace for one test, with an empty termination log (as the kubelet provides). */
export async function workspace(prefix: string): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), `provisioner-${prefix}-`));
  const terminationLog = join(dir, 'termination-log');
  await writeFile(terminationLog, '');
  return { dir, target: join(dir, 'weights'), terminationLog };
}

/** A running `provision-weights`: its process and what it has printed. */
export interface RunningProvisioner {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the exit code (or the killing signal) and every log line. */
  done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    lines: Record<string, unknown>[];
    stderr: string;
  }>;
}

/** Starts `main.ts` as a child process with `args`; the spec goes through the PROVISION_SPEC env var. */
export function startProvisioner(
  spec: unknown,
  args: string[],
  env: Record<string, string> = {},
): RunningProvisioner {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', PROVISION_SPEC: JSON.stringify(spec), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (data: string) => {
    buffered += data;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr?.setEncoding('utf8').on('data', (data: string) => {
    stderr += data;
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    lines: Record<string, unknown>[];
    stderr: string;
  }>((resolvePromise) =>
    child.on('close', (code, signal) => resolvePromise({ code, signal, lines, stderr })),
  );
  return { child, lines, done };
}

/** Runs `main.ts` to the end; see startProvisioner. */
export function runProvisioner(spec: unknown, args: string[], env: Record<string, string> = {}) {
  return startProvisioner(spec, args, env).done;
}

/** Standard flags for tests: quick progress lines, quick retries, a short lock staleness. */
export function testArgs(hub: HubServer, ws: Workspace, extra: string[] = []): string[] {
  return [
    '--target',
    ws.target,
    '--hub-url',
    hub.hubUrl,
    '--progress-interval',
    '0.2',
    '--retry-base-delay',
    '0.05',
    '--lock-stale',
    '2',
    '--termination-log',
    ws.terminationLog,
    ...extra,
  ];
}

/** SHA-256 (hex) of a file on disk, streamed. */
export async function digestOf(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** The hub-like test server for `files`, serving the repository and revision that `specFor` names. */
export function startTestHub(files: HubFile[], options: { token?: string } = {}): Promise<HubServer> {
  const { source } = specFor({ mirrorUrl: '' } as HubServer, []);
  return startHub(files, { repo: source.repo as string, revision: source.revision as string, ...options });
}

/** What a test file shares: the generated files, the hub serving them, and its workspaces. */
export interface TestHub {
  files: HubFile[];
  hub: HubServer;
  /** The big file's entry. */
  big(): HubFile;
  /** A fresh workspace, removed after the file's tests. */
  workspace(name: string): Promise<Workspace>;
}

/**
 * Starts the test hub before a test file's tests (clearing its faults and counters before each)
 * and closes it, with every workspace the tests made, afterwards.
 */
export function useTestHub(options: { token?: string } = {}): TestHub {
  const workspaces: Workspace[] = [];
  const env = {
    files: [],
    hub: undefined as unknown as HubServer,
    big: () => env.files.find((f) => f.name === BIG_FILE) as HubFile,
    async workspace(name: string) {
      const ws = await workspace(name);
      workspaces.push(ws);
      return ws;
    },
  } satisfies TestHub as TestHub;
  beforeAll(async () => {
    env.files = await weightFiles();
    env.hub = await startTestHub(env.files, options);
  }, 120_000);
  beforeEach(() => {
    env.hub.faults = {};
    env.hub.resetStats();
  });
  afterAll(async () => {
    await env.hub?.close();
    for (const ws of workspaces) await rm(ws.dir, { recursive: true, force: true });
  });
  return env;
}
