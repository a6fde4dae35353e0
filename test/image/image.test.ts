/**
 * The runtime image, built for real with `docker build` (scripts/build-images.sh; the base image
 * comes from `scripts/setup.sh test`) and run with host networking against real servers on
 * 127.0.0.1: the sidecar in front of the vLLM-compatible stub, and the provisioner filling a
 * mounted folder from a hub-like server. Containers run as they would in the chart's pods:
 * non-root, read-only root filesystem, no capabilities.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/eventually.ts';
import { type HubFile, type HubServer, startHub } from '../provisioner/hub-server.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { buildImage, docker, dockerUnavailable, freePort, HARDENED, ROOT } from './docker.ts';

const IMAGE = 'pixtral-runtime:image-test';
const TEKKEN_DIR = join(ROOT, '.cache', 'tekken');
const MODEL = 'mistral/pixtral-12b-2409:bf16';

const unavailable = dockerUnavailable();
if (unavailable) console.warn(`[image tests] SKIPPED: ${unavailable}`);

/** A temp folder a container user (uid 65532) can read and write. */
function sharedDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o777);
  return dir;
}

describe.skipIf(unavailable !== undefined)('runtime image', () => {
  const cleanup: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    // Starts dockerd when needed, builds the base image only if missing, then `docker build`.
    await buildImage('runtime', 'image-test');
  }, 600_000);

  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('runs as the non-root user 65532 and carries only the production packages its sources import', async () => {
    const inspect = JSON.parse((await docker(['image', 'inspect', IMAGE])).stdout)[0];
    expect(inspect.Config.User).toBe('65532:65532');
    // The image has no coreutils: node lists the folder.
    const listing = await docker([
      'run',
      '--rm',
      ...HARDENED,
      IMAGE,
      'node',
      '-e',
      "console.log(require('fs').readdirSync('/app/node_modules').join('\\n'))",
    ]);
    expect(listing.code).toBe(0);
    const packages = listing.stdout.split('\n').filter(Boolean);
    expect(packages).toEqual(expect.arrayContaining(['pino', 'prom-client', 'undici', 'zod']));
    for (const devOnly of ['vitest', 'typescript', 'openai', '@biomejs', 'node'])
      expect(packages).not.toContain(devOnly);
    const version = await docker(['run', '--rm', ...HARDENED, IMAGE, 'node', '--version']);
    expect(version.stdout.trim()).toMatch(/^v24\./);
    // Only Node, its C runtime, CA certificates and /bin/sh: no distribution userland, no declarations.
    const present = await docker([
      'run',
      '--rm',
      ...HARDENED,
      IMAGE,
      'node',
      '-p',
      "['/etc/ssl/certs/ca-certificates.crt', '/bin/sh', '/usr/bin/ls', '/var/lib/dpkg', '/app/node_modules/zod/index.d.ts'].map((f) => require('fs').existsSync(f)).join(' ')",
    ]);
    expect(present.stdout.trim()).toBe('true true false false false');
  });

  it('provision-weights --help prints the usage and exits 0', async () => {
    const help = await docker(['run', '--rm', ...HARDENED, IMAGE, 'provision-weights', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: provision-weights --target <dir>');
  });

  it('provision-weights fills a mounted folder from a hub on 127.0.0.1 and verifies every file', async () => {
    const source = mkdtempSync(join(tmpdir(), 'image-hub-'));
    const target = sharedDir('image-weights-');
    cleanup.push(() => rmSync(source, { recursive: true, force: true }));
    cleanup.push(() => rmSync(target, { recursive: true, force: true }));
    const files: HubFile[] = [
      ['params.json', Buffer.from('{"dim":5120}')],
      ['tekken.json', Buffer.from('{"config":{}}')],
      ['consolidated.safetensors', randomBytes(3 * 1024 * 1024)],
    ].map(([name, content]) => {
      const path = join(source, name as string);
      writeFileSync(path, content as Buffer);
      const sha256 = createHash('sha256')
        .update(content as Buffer)
        .digest('hex');
      return { name: name as string, path, size: (content as Buffer).length, sha256 };
    });
    const repo = 'mistralai/Pixtral-12B-2409';
    const revision = 'b1ca26d8fd4ba4e8b0ce6c6ab0c3b1a8d1b0d1f2';
    const hub: HubServer = await startHub(files, { repo, revision });
    cleanup.push(() => hub.close());
    const spec = {
      model: MODEL,
      source: { kind: 'hub', repo, revision },
      files: files.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
    };
    const result = await docker([
      'run',
      '--rm',
      ...HARDENED,
      '-v',
      `${target}:/weights`,
      '-e',
      `PROVISION_SPEC=${JSON.stringify(spec)}`,
      IMAGE,
      'provision-weights',
      '--target',
      '/weights',
      '--hub-url',
      hub.hubUrl,
      '--termination-log',
      '/weights/.termination-log',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const file of files)
      expect(readFileSync(join(target, file.name)).equals(readFileSync(file.path))).toBe(true);
    expect(existsSync(join(target, '.weights-manifest.json'))).toBe(true);
  });

  it('sidecar refuses to start without key hashes, naming the variable to set', async () => {
    const result = await docker(['run', '--rm', ...HARDENED, IMAGE, 'sidecar']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('API_KEY_HASHES_FILE');
  });

  it.skipIf(!existsSync(join(TEKKEN_DIR, 'tekken.json')))(
    'sidecar serves chat completions through the stub upstream with key auth, then drains on docker stop',
    async () => {
      const stub: UpstreamStub = await startUpstreamStub();
      cleanup.push(() => stub.close());
      const key = `pxd-${randomBytes(16).toString('hex')}`;
      const keys = sharedDir('image-keys-');
      cleanup.push(() => rmSync(keys, { recursive: true, force: true }));
      writeFileSync(join(keys, 'hashes'), `test:${createHash('sha256').update(key).digest('hex')}\n`, {
        mode: 0o644,
      });
      const port = await freePort();
      const name = `pxd-sidecar-${randomBytes(4).toString('hex')}`;
      const started = await docker([
        'run',
        '-d',
        '--name',
        name,
        ...HARDENED,
        '-v',
        `${TEKKEN_DIR}:/weights:ro`,
        '-v',
        `${keys}:/keys:ro`,
        '-e',
        'SIDECAR_HOST=127.0.0.1',
        '-e',
        `SIDECAR_PORT=${port}`,
        '-e',
        `UPSTREAM_URL=${stub.url}`,
        '-e',
        'API_KEY_HASHES_FILE=/keys/hashes',
        '-e',
        'SHUTDOWN_GRACE_MS=2000',
        IMAGE,
        'sidecar',
      ]);
      expect(started.stderr).toBe('');
      cleanup.push(() => docker(['rm', '-f', name]));
      const base = `http://127.0.0.1:${port}`;
      await eventually(
        async () => {
          const health = await fetch(`${base}/health`);
          if (health.status !== 200) throw new Error(`/health answered ${health.status}`);
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );

      const body = JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'Hello?' }],
        max_tokens: 8,
      });
      const refused = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(refused.status).toBe(401);
      const answer = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body,
      });
      expect(answer.status).toBe(200);
      const completion = (await answer.json()) as {
        object: string;
        choices: Array<{ message: { content: string } }>;
      };
      expect(completion.object).toBe('chat.completion');
      expect(completion.choices[0]?.message.content.length).toBeGreaterThan(0);
      expect(stub.received).toHaveLength(1);
      expect(JSON.stringify(stub.received[0]?.headers)).not.toContain(key);

      // docker stop sends SIGTERM: the sidecar drains and exits 0 well inside the timeout.
      await docker(['stop', '--time', '20', name]);
      const exit = await docker(['inspect', '--format', '{{.State.ExitCode}}', name]);
      expect(exit.stdout.trim()).toBe('0');
      const logs = await docker(['logs', name]);
      expect(`${logs.stdout}${logs.stderr}`).not.toContain(key);
    },
  );
});
