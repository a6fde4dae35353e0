import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  BIG_FILE,
  specFor,
  startProvisioner,
  startTestHub,
  testArgs,
  type Workspace,
  weightFiles,
  workspace,
} from './fixtures.ts';
import type { HubFile, HubServer } from './hub-server.ts';

let files: HubFile[];
let hub: HubServer;
let ws: Workspace;

beforeAll(async () => {
  files = await weightFiles();
  hub = await startTestHub(files);
  ws = await workspace('concurrent');
}, 120_000);

afterAll(async () => {
  await hub?.close();
  if (ws !== undefined) await rm(ws.dir, { recursive: true, force: true });
});

it('two provisioners started on one folder at once end with one correct copy, downloaded once', async () => {
  hub.faults = { rateBytesPerSecond: 64 * 1024 * 1024 };
  const runs = [0, 1].map(() => startProvisioner(specFor(hub, files), testArgs(hub, ws)));
  const results = await Promise.all(runs.map((r) => r.done));

  expect(results.map((r) => r.code)).toEqual([0, 0]);
  const noops = results.filter((r) => r.lines.some((l) => l.msg === 'Found the weights already provisioned'));
  expect(noops).toHaveLength(1);
  expect(noops[0]!.lines.some((l) => l.msg === 'Waiting for another provisioner that holds the lock')).toBe(
    true,
  );
  const bigFile = files.find((f) => f.name === BIG_FILE)!;
  // The whole file once; a connection cut short by a split may overrun by what was in flight.
  expect(hub.bytesServed.get(BIG_FILE)).toBeGreaterThanOrEqual(bigFile.size);
  expect(hub.bytesServed.get(BIG_FILE)).toBeLessThan(bigFile.size + 32 * 1024 * 1024);
  for (const file of files) {
    const hash = createHash('sha256');
    await pipeline(createReadStream(join(ws.target, file.name)), hash);
    expect(hash.digest('hex'), file.name).toBe(file.sha256);
  }
  expect((await readdir(ws.target)).sort()).toEqual(
    ['.weights-manifest.json', ...files.map((f) => f.name)].sort(),
  );
});
