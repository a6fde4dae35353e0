import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BIG_FILE, digestOf, specFor, startProvisioner, testArgs, useTestHub } from './fixtures.ts';

const env = useTestHub();

it('two provisioners started on one folder at once end with one correct copy, downloaded once', async () => {
  env.hub.faults = { rateBytesPerSecond: 64 * 1024 * 1024 };
  const ws = await env.workspace('concurrent');
  const runs = [0, 1].map(() => startProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws)));
  const results = await Promise.all(runs.map((r) => r.done));

  expect(results.map((r) => r.code)).toEqual([0, 0]);
  const noops = results.filter((r) => r.lines.some((l) => l.msg === 'Found the weights already provisioned'));
  expect(noops).toHaveLength(1);
  expect(noops[0]!.lines.some((l) => l.msg === 'Waiting for another provisioner that holds the lock')).toBe(
    true,
  );
  const bigFile = env.big();
  // The whole file once; a connection cut short by a split may overrun by what was in flight.
  expect(env.hub.bytesServed.get(BIG_FILE)).toBeGreaterThanOrEqual(bigFile.size);
  expect(env.hub.bytesServed.get(BIG_FILE)).toBeLessThan(bigFile.size + 32 * 1024 * 1024);
  for (const file of env.files)
    expect(await digestOf(join(ws.target, file.name)), file.name).toBe(file.sha256);
  expect((await readdir(ws.target)).sort()).toEqual(
    ['.weights-manifest.json', ...env.files.map((f) => f.name)].sort(),
  );
});
