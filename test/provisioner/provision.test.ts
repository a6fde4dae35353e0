import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BIG_FILE,
  digestOf,
  gitBlobId,
  PLAIN_FILE,
  runProvisioner,
  specFor,
  testArgs,
  useTestHub,
} from './fixtures.ts';

const TOKEN = 'hf_test_token_0123456789';
const env = useTestHub({ token: TOKEN });

async function expectVerifiedCopy(target: string, from: 'hub' | 'mirror' = 'hub'): Promise<void> {
  for (const file of env.files) expect(await digestOf(join(target, file.name)), file.name).toBe(file.sha256);
  const manifest = JSON.parse(await readFile(join(target, '.weights-manifest.json'), 'utf8'));
  if (from === 'mirror') {
    // A mirror has no ids to ask: every file by the catalog's SHA-256.
    expect(manifest.verified).toEqual(
      env.files.map((f) => ({ name: f.name, method: 'sha256', digest: f.sha256, from: 'catalog' })),
    );
    return;
  }
  // LFS files by the SHA-256 the hub gives (the catalog's pin agrees); params.json, a plain git
  // file, by its git blob id from the hub.
  expect(manifest.verified).toEqual(
    expect.arrayContaining([
      {
        name: PLAIN_FILE,
        method: 'git-blob-sha1',
        digest: gitBlobId(await readFile(plainFile().path)),
        from: 'hub',
      },
      { name: BIG_FILE, method: 'sha256', digest: env.big().sha256, from: 'hub+catalog' },
    ]),
  );
  expect(existsSync(join(target, '.partial'))).toBe(false);
}

const plainFile = () => env.files.find((f) => f.name === PLAIN_FILE)!;
const termination = async (path: string) => JSON.parse(await readFile(path, 'utf8'));

describe('provision-weights', () => {
  it('fills an empty folder from the hub, following the redirect without leaking the token, then writes the manifest', async () => {
    const ws = await env.workspace('clean');
    const run = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), { HF_TOKEN: TOKEN });

    expect(run.code, run.stderr).toBe(0);
    await expectVerifiedCopy(ws.target);
    const hubRequests = env.hub.requests.filter((r) => r.server === 'hub');
    const storeRequests = env.hub.requests.filter((r) => r.server === 'store');
    expect(hubRequests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(storeRequests.length).toBeGreaterThan(0);
    expect(storeRequests.every((r) => r.authorization === undefined)).toBe(true);
    // Each byte once (a connection added on a slow machine may overrun its cut by what was in flight).
    const total = env.files.reduce((sum, f) => sum + f.size, 0);
    expect(env.hub.totalServed()).toBeGreaterThanOrEqual(total);
    expect(env.hub.totalServed()).toBeLessThan(total + 32 * 1024 * 1024);

    const progress = run.lines.filter((l) => l.msg === 'Download progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(Object.keys(progress[0]!)).toEqual(
      expect.arrayContaining(['bytes', 'totalBytes', 'percent', 'rateBytesPerSecond', 'etaSeconds']),
    );
    // Neither the token nor the store's signed query string reaches the logs.
    expect(JSON.stringify(run.lines)).not.toContain(TOKEN);
    expect(JSON.stringify(run.lines)).not.toContain('X-Amz-Signature');
    const last = run.lines.at(-1)!;
    expect(last.msg).toMatch(/^Provisioned mistral\/pixtral-12b-2409:bf16: 3 files/);
    expect(last.transferredBytes).toBe(env.files.reduce((sum, f) => sum + f.size, 0));
    expect(await termination(ws.terminationLog)).toEqual({ code: 'Provisioned', message: last.msg });
    // The hub was asked for the revision's file ids, with the token, before any byte.
    expect(hubRequests[0]?.path).toBe(
      '/api/models/mistralai/Pixtral-12B-2409/paths-info/b1ca26d8fd4ba4e8b0ce6c6ab0c3b1a8d1b0d1f2',
    );
  });

  it('does nothing on a second run: no request reaches the hub', async () => {
    const ws = await env.workspace('noop');
    expect(
      (await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), { HF_TOKEN: TOKEN })).code,
    ).toBe(0);
    env.hub.resetStats();

    const again = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), {
      HF_TOKEN: TOKEN,
    });

    expect(again.code).toBe(0);
    expect(env.hub.requests).toEqual([]);
    expect(env.hub.totalServed()).toBe(0);
    expect(again.lines.at(-1)!.msg).toMatch(/already provisioned; nothing to do/);
  });

  it('takes the exact size of a file the catalog knows only roughly from the hub ids, and trusts the digest for the bytes', async () => {
    const ws = await env.workspace('estimated-size');
    const spec = specFor(env.hub, env.files);
    const estimated = {
      ...spec,
      files: spec.files.map((f) =>
        f.name === BIG_FILE ? { ...f, size: Math.round(f.size / 1e6) * 1e6 + 123, sizeIsExact: false } : f,
      ),
    };
    const run = await runProvisioner(estimated, testArgs(env.hub, ws), { HF_TOKEN: TOKEN });

    expect(run.code, run.stderr).toBe(0);
    await expectVerifiedCopy(ws.target);
    const ids = run.lines.find((l) => l.msg === 'Read the file ids of the revision from the hub');
    expect(ids?.files).toContainEqual({ name: BIG_FILE, size: env.big().size, sha256: env.big().sha256 });
    const manifest = JSON.parse(await readFile(join(ws.target, '.weights-manifest.json'), 'utf8'));
    expect(manifest.files.find((f: { name: string }) => f.name === BIG_FILE).size).toBe(env.big().size);

    env.hub.resetStats();
    const again = await runProvisioner(estimated, testArgs(env.hub, ws), { HF_TOKEN: TOKEN });
    expect(again.code).toBe(0);
    expect(env.hub.requests).toEqual([]);
  });

  it('fetches from a plain mirror URL, sending no token, learning a rough size from the server', async () => {
    const ws = await env.workspace('mirror');
    const spec = specFor(env.hub, env.files, 'url');
    spec.files = spec.files.map((f) =>
      f.name === BIG_FILE ? { ...f, size: Math.round(f.size / 1e6) * 1e6 + 123, sizeIsExact: false } : f,
    );
    const run = await runProvisioner(spec, testArgs(env.hub, ws), {
      HF_TOKEN: TOKEN,
    });

    expect(run.code, run.stderr).toBe(0);
    expect(run.lines.some((l) => l.msg === 'Learned the exact size of a file from the server')).toBe(true);
    await expectVerifiedCopy(ws.target, 'mirror');
    expect(env.hub.requests.every((r) => r.server === 'store' && r.authorization === undefined)).toBe(true);
  });

  it('fails clearly when the hub refuses the token, leaving no manifest', async () => {
    const ws = await env.workspace('token');
    const run = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), {
      HF_TOKEN: 'hf_wrong',
    });

    expect(run.code).toBe(4);
    expect(run.lines.at(-1)).toMatchObject({ level: 'error', code: 'Unauthorized' });
    expect(run.lines.at(-1)!.msg).toMatch(/answered 401: the hub token is missing, wrong/);
    expect(JSON.stringify(run.lines)).not.toContain('hf_wrong');
    expect(existsSync(join(ws.target, '.weights-manifest.json'))).toBe(false);
  });

  it('reads the token from a file (a mounted Secret)', async () => {
    const ws = await env.workspace('token-file');
    const tokenFile = join(ws.dir, 'token');
    await import('node:fs/promises').then((fs) => fs.writeFile(tokenFile, `${TOKEN}\n`));
    const run = await runProvisioner(
      specFor(env.hub, env.files),
      testArgs(env.hub, ws, ['--token-file', tokenFile]),
    );

    expect(run.code, JSON.stringify(run.lines.at(-1))).toBe(0);
    await expectVerifiedCopy(ws.target);
  });

  it('retries 500s and resumes a cut connection with Range and If-Range, fetching each byte about once', async () => {
    const ws = await env.workspace('flaky');
    env.hub.faults = { status500: 3, cut: { bytes: 20 * 1024 * 1024, times: 2 } };
    const run = await runProvisioner(
      specFor(env.hub, env.files),
      testArgs(env.hub, ws, ['--parallelism', '1']),
      {
        HF_TOKEN: TOKEN,
      },
    );

    expect(run.code, JSON.stringify(run.lines.at(-1))).toBe(0);
    await expectVerifiedCopy(ws.target);
    expect(
      run.lines.filter((l) => l.msg === 'Retrying after a transient error').length,
    ).toBeGreaterThanOrEqual(5);
    const resumed = env.hub.requests.filter(
      (r) => r.server === 'store' && r.path.includes(env.big().sha256) && r.range,
    );
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((r) => r.ifRange === `"${env.big().sha256}"`)).toBe(true);
    // At most the bytes sitting in buffers at each cut are fetched twice.
    expect(env.hub.bytesServed.get(BIG_FILE)).toBeLessThan(env.big().size + 4 * 1024 * 1024);
  });

  it('adds parallel range connections while each one adds throughput (a CDN with per-connection limits)', async () => {
    const ws = await env.workspace('parallel');
    env.hub.faults = { rateBytesPerSecond: 32 * 1024 * 1024 };
    const run = await runProvisioner(
      specFor(env.hub, env.files),
      testArgs(env.hub, ws, ['--segment-size', String(16 * 1024 * 1024)]),
      {
        HF_TOKEN: TOKEN,
      },
    );

    expect(run.code, JSON.stringify(run.lines.at(-1))).toBe(0);
    await expectVerifiedCopy(ws.target);
    expect(env.hub.maxConcurrent).toBeGreaterThanOrEqual(3);
    expect(
      run.lines.filter((l) => l.msg === 'Changed the number of connections').map((l) => l.connections),
    ).toContain(3);
  });

  it('falls back to one stream when the server ignores Range', async () => {
    const ws = await env.workspace('no-range');
    env.hub.faults = { ignoreRange: true, rateBytesPerSecond: 128 * 1024 * 1024 };
    const run = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), { HF_TOKEN: TOKEN });

    expect(run.code, JSON.stringify(run.lines.at(-1))).toBe(0);
    await expectVerifiedCopy(ws.target);
    const bigRequests = env.hub.requests.filter(
      (r) => r.server === 'store' && r.path.includes(env.big().sha256),
    );
    // One plain GET, even at a per-connection rate that would call for more connections.
    expect(bigRequests.map((r) => r.range)).toEqual([undefined]);
  });

  it('cuts and retries a response that stalls longer than the stall timeout', async () => {
    const ws = await env.workspace('stall');
    env.hub.faults = { stall: { afterBytes: 8 * 1024 * 1024, ms: 3000, times: 1 } };
    const run = await runProvisioner(
      specFor(env.hub, env.files),
      testArgs(env.hub, ws, ['--parallelism', '1', '--stall-timeout', '0.5']),
      { HF_TOKEN: TOKEN },
    );

    expect(run.code, JSON.stringify(run.lines.at(-1))).toBe(0);
    await expectVerifiedCopy(ws.target);
    expect(
      run.lines.some((l) => l.msg === 'Retrying after a transient error' && l.code === 'NetworkError'),
    ).toBe(true);
  });

  it('refuses a file with a wrong byte, naming the file and both digests, and leaves nothing visible', async () => {
    const ws = await env.workspace('corrupt');
    env.hub.faults = { corrupt: { file: BIG_FILE, offset: 100 * 1024 * 1024 + 7 } };
    const run = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), { HF_TOKEN: TOKEN });

    expect(run.code).toBe(3);
    const last = run.lines.at(-1)!;
    expect(last).toMatchObject({ level: 'error', code: 'DigestMismatch' });
    expect(last.msg).toContain(`${BIG_FILE}: SHA-256 mismatch: expected ${env.big().sha256}, got `);
    expect(last.msg).toMatch(/got [0-9a-f]{64}; the download was deleted/);
    expect(await termination(ws.terminationLog)).toEqual({
      code: 'DigestMismatch',
      retry: 'terminal',
      file: BIG_FILE,
      expected: `sha256:${env.big().sha256}`,
      got: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      message: last.msg,
    });
    expect(existsSync(join(ws.target, BIG_FILE))).toBe(false);
    expect(existsSync(join(ws.target, '.weights-manifest.json'))).toBe(false);
    expect(await readdir(join(ws.target, '.partial'))).toEqual([]);
  });

  it('verifies params.json, a plain git file, by the git blob id the hub gives, and refuses a wrong byte', async () => {
    const ws = await env.workspace('plain-corrupt');
    env.hub.faults = { corrupt: { file: PLAIN_FILE, offset: 3 } };
    const run = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), { HF_TOKEN: TOKEN });

    expect(run.code).toBe(3);
    const expected = gitBlobId(await readFile(plainFile().path));
    const message = await termination(ws.terminationLog);
    expect(message).toMatchObject({
      code: 'DigestMismatch',
      file: PLAIN_FILE,
      expected: `git-blob-sha1:${expected}`,
    });
    expect(message.got).toMatch(/^git-blob-sha1:[0-9a-f]{40}$/);
    expect(message.got).not.toBe(message.expected);
    expect(message.message).toContain(`${PLAIN_FILE}: git blob SHA-1 mismatch: expected ${expected}`);
    expect(existsSync(join(ws.target, PLAIN_FILE))).toBe(false);
  });

  it('refuses before any download when the catalog pins another SHA-256 than the hub has', async () => {
    const ws = await env.workspace('catalog-mismatch');
    const hubSays = 'f'.repeat(64);
    env.hub.faults = { wrongIds: { file: BIG_FILE, sha256: hubSays } };
    const run = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), { HF_TOKEN: TOKEN });

    expect(run.code).toBe(3);
    expect(await termination(ws.terminationLog)).toMatchObject({
      code: 'CatalogMismatch',
      file: BIG_FILE,
      expected: env.big().sha256,
      got: hubSays,
    });
    expect(env.hub.requests.filter((r) => r.server === 'store')).toEqual([]);
  });

  it('restarts a file from its first byte when the server copy changed between runs', async () => {
    const ws = await env.workspace('etag');
    env.hub.faults = { cut: { bytes: 50 * 1024 * 1024, times: 1 } };
    await runProvisioner(
      specFor(env.hub, env.files),
      testArgs(env.hub, ws, ['--parallelism', '1', '--retries', '0']),
      {
        HF_TOKEN: TOKEN,
      },
    );
    expect(existsSync(join(ws.target, '.partial', `${BIG_FILE}.state.json`))).toBe(true);
    env.hub.faults = { etagSuffix: '-v2' };
    env.hub.resetStats();

    const run = await runProvisioner(
      specFor(env.hub, env.files),
      testArgs(env.hub, ws, ['--parallelism', '1']),
      {
        HF_TOKEN: TOKEN,
      },
    );

    expect(run.code, JSON.stringify(run.lines.at(-1))).toBe(0);
    expect(run.lines.some((l) => l.msg === 'Restarted download from the first byte')).toBe(true);
    await expectVerifiedCopy(ws.target);
  });

  it('refuses to start when the volume cannot hold the files, before any download', async () => {
    const ws = await env.workspace('disk');
    env.hub.faults = { wrongIds: { file: BIG_FILE, size: 2 ** 50 } };
    const run = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws), { HF_TOKEN: TOKEN });

    expect(run.code).toBe(6);
    expect(run.lines.at(-1)).toMatchObject({ code: 'DiskFull' });
    expect(run.lines.at(-1)!.msg).toMatch(
      /Not enough disk space in .*: the download needs 1\.0 PiB more, .* are free/,
    );
    expect(env.hub.requests.filter((r) => r.server === 'store')).toEqual([]);
  });

  it.each([
    [
      'a mirror file without a digest (a mirror has no ids to ask)',
      (s: ReturnType<typeof specFor>) => {
        s.source = { kind: 'url', baseUrl: env.hub.mirrorUrl };
        delete (s.files[0] as { sha256?: string }).sha256;
      },
      /every file needs its sha256/,
    ],
    [
      'a path that escapes the folder',
      (s: ReturnType<typeof specFor>) => (s.files[0]!.name = '../etc/passwd'),
      /plain segments/,
    ],
    [
      'an unknown source kind',
      (s: ReturnType<typeof specFor>) => ((s.source as { kind: string }).kind = 'ftp'),
      /source/,
    ],
  ])('refuses a spec with %s, exit code 2', async (_name, spoil, message) => {
    const ws = await env.workspace('bad-spec');
    const spec = specFor(env.hub, env.files);
    spoil(spec);
    const run = await runProvisioner(spec, testArgs(env.hub, ws));

    expect(run.code).toBe(2);
    expect(run.lines.at(-1)).toMatchObject({ code: 'BadSpec' });
    expect(run.lines.at(-1)!.msg).toMatch(message);
    expect(env.hub.requests).toEqual([]);
  });
});
