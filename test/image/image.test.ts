/**
 * The runtime image, built for real with `docker build` (scripts/build-images.sh; the base image
 * comes from `scripts/setup.sh test`) and run with testcontainers as the chart's pods run it:
 * non-root, read-only root filesystem, no capabilities, its port published on 127.0.0.1. The
 * containers sit on a Docker network of this file's own: the sidecar reaches the vLLM stand-in
 * image there by name, as it reaches vLLM in a pod, and the test's own servers (a hub-like
 * server, the recording upstream stub) listen on the host's address on that network.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getContainerRuntimeClient, ImageName, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HubFile, type HubServer, startHub } from '../provisioner/hub-server.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import {
  POD_USER,
  ProjectContainer,
  podLikeContainer,
  type Running,
  startNetwork,
  type TestNetwork,
} from './containers.ts';
import { buildImage, dockerUnavailable, ROOT } from './docker.ts';

const IMAGE = 'pixtral-runtime:image-test';
const STAND_IN = 'pixtral-vllm-standin:image-test';
const TEKKEN_DIR = join(ROOT, '.cache', 'tekken');
const MODEL = 'mistral/pixtral-12b-2409:bf16';
const SIDECAR_PORT = 8080;

const unavailable = dockerUnavailable();
if (unavailable) console.warn(`[image tests] SKIPPED: ${unavailable}`);

/** A temp folder a container user (uid 65532) can read and write. */
function sharedDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o777);
  return dir;
}

/** A chat request with one short question. */
const chat = (base: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hello?' }], max_tokens: 8 }),
  });

describe.skipIf(unavailable !== undefined)('runtime image', () => {
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  let net: TestNetwork;

  beforeAll(async () => {
    // Starts dockerd when needed, builds the base image only if missing, then `docker build`.
    await buildImage('runtime', 'image-test');
    await buildImage('vllm', 'image-test');
    net = await startNetwork();
    cleanup.push(() => net.stop());
  }, 900_000);

  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  /** The sidecar in the image, on the network, its port published; stopped after the file at the latest. */
  async function startSidecar(env: Record<string, string>, keysDir: string): Promise<Running> {
    const sidecar = await podLikeContainer(IMAGE)
      .withCommand(['sidecar'])
      .withNetwork(net.network)
      .withBindMounts([
        { source: TEKKEN_DIR, target: '/weights', mode: 'ro' },
        { source: keysDir, target: '/keys', mode: 'ro' },
      ])
      .withEnvironment({ API_KEY_HASHES_FILE: '/keys/hashes', SHUTDOWN_GRACE_MS: '2000', ...env })
      .withExposedPorts(SIDECAR_PORT)
      .withWaitStrategy(Wait.forHttp('/health', SIDECAR_PORT, { abortOnContainerExit: true }))
      .run();
    cleanup.push(() => sidecar.stop());
    return sidecar;
  }

  /** A keys Secret's hashes file with one new key, as the operator writes it. */
  function keysWithOneKey(): { key: string; dir: string } {
    const key = `pxd-${randomBytes(16).toString('hex')}`;
    const dir = sharedDir('image-keys-');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'hashes'), `test:${createHash('sha256').update(key).digest('hex')}\n`, {
      mode: 0o644,
    });
    return { key, dir };
  }

  it('runs as the non-root user 65532 and carries only the production packages its sources import', async () => {
    const inspect = await (await getContainerRuntimeClient()).image.inspect(ImageName.fromString(IMAGE));
    expect(inspect.Config.User).toBe(POD_USER);
    const node = (script: string) => podLikeContainer(IMAGE).withCommand(['node', '-e', script]).runToEnd();
    // The image has no coreutils: node lists the folder.
    const listing = await node("console.log(require('fs').readdirSync('/app/node_modules').join('\\n'))");
    expect(listing.exitCode).toBe(0);
    const packages = listing.stdout.split('\n').filter(Boolean);
    expect(packages).toEqual(expect.arrayContaining(['pino', 'prom-client', 'undici', 'zod']));
    for (const devOnly of ['vitest', 'typescript', 'openai', 'testcontainers', '@biomejs', 'node'])
      expect(packages).not.toContain(devOnly);
    expect((await node('console.log(process.version)')).stdout.trim()).toMatch(/^v24\./);
    // Only Node, its C runtime, CA certificates and /bin/sh: no distribution userland, no declarations.
    const present = await node(
      "console.log(['/etc/ssl/certs/ca-certificates.crt', '/bin/sh', '/usr/bin/ls', '/var/lib/dpkg', '/app/node_modules/zod/index.d.ts'].map((f) => require('fs').existsSync(f)).join(' '))",
    );
    expect(present.stdout.trim()).toBe('true true false false false');
  });

  it('provision-weights --help prints the usage and exits 0', async () => {
    const help = await podLikeContainer(IMAGE).withCommand(['provision-weights', '--help']).runToEnd();
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Usage: provision-weights --target <dir>');
  });

  it('provision-weights fills a mounted folder from a hub on the host and verifies every file', async () => {
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
    const hub: HubServer = await startHub(files, { repo, revision, host: net.hostAddress });
    cleanup.push(() => hub.close());
    const spec = {
      model: MODEL,
      source: { kind: 'hub', repo, revision },
      files: files.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
    };
    const result = await podLikeContainer(IMAGE)
      .withNetwork(net.network)
      .withBindMounts([{ source: target, target: '/weights', mode: 'rw' }])
      .withEnvironment({ PROVISION_SPEC: JSON.stringify(spec) })
      .withCommand([
        'provision-weights',
        '--target',
        '/weights',
        '--hub-url',
        hub.hubUrl,
        '--termination-log',
        '/weights/.termination-log',
      ])
      .runToEnd();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    for (const file of files)
      expect(readFileSync(join(target, file.name)).equals(readFileSync(file.path))).toBe(true);
    expect(existsSync(join(target, '.weights-manifest.json'))).toBe(true);
  });

  it('sidecar refuses to start without key hashes, naming the variable to set', async () => {
    const result = await podLikeContainer(IMAGE).withCommand(['sidecar']).runToEnd();
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('API_KEY_HASHES_FILE');
  });

  // Two containers each, each given testcontainers' 60 s to answer /health: a failed start is
  // removed by testcontainers before the test's own timeout, so nothing outlives the file.
  describe.skipIf(!existsSync(join(TEKKEN_DIR, 'tekken.json')))('sidecar', { timeout: 150_000 }, () => {
    it('answers through the vLLM stand-in it reaches by name on the network, as vLLM beside it in a pod', async ({
      onTestFailed,
    }) => {
      const answer = 'An answer from the vLLM stand-in container.';
      const standIn = await new ProjectContainer(STAND_IN)
        .withUser(POD_USER)
        .withNetwork(net.network)
        .withNetworkAliases('vllm')
        // What vLLM reads at start: a model folder with files in it.
        .withCopyContentToContainer([
          { content: '{"dim":5120}', target: '/weights/params.json', mode: 0o644 },
        ])
        .withCommand(['/weights', '--served-model-name', MODEL, '--host', '0.0.0.0', '--port', '8000'])
        .withEnvironment({ STAND_IN_ANSWER: answer })
        .withExposedPorts(8000)
        .withWaitStrategy(Wait.forHttp('/health', 8000, { abortOnContainerExit: true }))
        .run();
      cleanup.push(() => standIn.stop());
      const { key, dir } = keysWithOneKey();
      const sidecar = await startSidecar({ UPSTREAM_URL: 'http://vllm:8000' }, dir);
      onTestFailed(() => {
        console.error(`sidecar wrote:\n${sidecar.output()}\nvLLM stand-in wrote:\n${standIn.output()}`);
      });
      const base = sidecar.url(SIDECAR_PORT);

      expect((await chat(base)).status).toBe(401);
      const ok = await chat(base, { authorization: `Bearer ${key}` });
      expect(ok.status).toBe(200);
      const completion = (await ok.json()) as { choices: Array<{ message: { content: string } }> };
      expect(completion.choices[0]?.message.content).toBe(answer);
      // The stand-in answered the one authorised request; the refused one never reached it.
      const metrics = await (await fetch(`${standIn.url(8000)}/metrics`)).text();
      expect(metrics).toMatch(/^vllm:e2e_request_latency_seconds_count\{[^}]*\} 1$/m);
    });

    it('relays to its upstream without the client key, then drains and exits 0 on stop', async ({
      onTestFailed,
    }) => {
      // The recording stub on the host's address on the network: it keeps every request's headers.
      const stub: UpstreamStub = await startUpstreamStub({ host: net.hostAddress });
      cleanup.push(() => stub.close());
      const { key, dir } = keysWithOneKey();
      const sidecar = await startSidecar({ UPSTREAM_URL: stub.url }, dir);
      onTestFailed(() => console.error(`sidecar wrote:\n${sidecar.output()}`));
      const base = sidecar.url(SIDECAR_PORT);

      expect((await chat(base)).status).toBe(401);
      const answer = await chat(base, { authorization: `Bearer ${key}` });
      expect(answer.status).toBe(200);
      const completion = (await answer.json()) as {
        object: string;
        choices: Array<{ message: { content: string } }>;
      };
      expect(completion.object).toBe('chat.completion');
      expect(completion.choices[0]?.message.content.length).toBeGreaterThan(0);
      expect(stub.received).toHaveLength(1);
      expect(JSON.stringify(stub.received[0]?.headers)).not.toContain(key);

      // Stopping sends SIGTERM: the sidecar drains and exits 0 well inside the 20 s grace.
      expect(await sidecar.stop(20_000)).toBe(0);
      expect(sidecar.output()).toContain('"msg"');
      expect(sidecar.output()).not.toContain(key);
    });
  });
});
