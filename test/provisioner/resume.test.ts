import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BIG_FILE,
  digestOf,
  runProvisioner,
  specFor,
  startProvisioner,
  startTestHub,
  testArgs,
  type Workspace,
  weightFiles,
  workspace,
} from './fixtures.ts';
import type { HubFile, HubServer } from './hub-server.ts';

interface SavedState {
  segments: { start: number; end: number; done: number }[];
}

let files: HubFile[];
let hub: HubServer;
const workspaces: Workspace[] = [];
const MiB = 1024 * 1024;

function big(): HubFile {
  return files.find((f) => f.name === BIG_FILE)!;
}

async function savedState(ws: Workspace): Promise<SavedState | undefined> {
  try {
    return JSON.parse(
      await readFile(join(ws.target, '.partial', `${BIG_FILE}.state.json`), 'utf8'),
    ) as SavedState;
  } catch {
    return undefined;
  }
}

const doneOf = (state: SavedState | undefined) => state?.segments.reduce((sum, s) => sum + s.done, 0) ?? 0;

/** Polls until the big file's resume record says at least `bytes` are written. */
async function waitForProgress(ws: Workspace, bytes: number): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (doneOf(await savedState(ws)) < bytes) {
    if (performance.now() > deadline) throw new Error(`No ${bytes} bytes written within 60 s`);
    await sleep(50);
  }
}

beforeAll(async () => {
  files = await weightFiles();
  hub = await startTestHub(files);
}, 120_000);

afterAll(async () => {
  await hub?.close();
  for (const ws of workspaces) await rm(ws.dir, { recursive: true, force: true });
});

beforeEach(() => {
  hub.faults = {};
  hub.resetStats();
});

describe('provision-weights resume', () => {
  it('after SIGKILL mid-file, a new run takes over the stale lock and fetches only the bytes not yet written', async () => {
    const ws = await workspace('kill');
    workspaces.push(ws);
    // Slow enough that the kill lands mid-file on any machine.
    hub.faults = { rateBytesPerSecond: 16 * MiB };
    const first = startProvisioner(specFor(hub, files), testArgs(hub, ws));
    await waitForProgress(ws, 40 * MiB);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');

    expect(existsSync(join(ws.target, BIG_FILE))).toBe(false);
    expect(existsSync(join(ws.target, '.weights-manifest.json'))).toBe(false);
    const state = await savedState(ws);
    expect(state?.segments.length).toBeGreaterThan(1);
    const remaining = big().size - doneOf(state);
    expect(remaining).toBeLessThan(big().size - 40 * MiB);

    hub.faults = {};
    hub.resetStats();
    const second = await runProvisioner(specFor(hub, files), testArgs(hub, ws));

    expect(second.code, JSON.stringify(second.lines.at(-1))).toBe(0);
    expect(second.lines.some((l) => l.msg === 'Waiting for another provisioner that holds the lock')).toBe(
      true,
    );
    expect(second.lines.find((l) => l.msg === 'Resumed partial download')).toMatchObject({
      bytes: doneOf(state),
    });
    expect(hub.bytesServed.get(BIG_FILE)).toBe(remaining);
    expect(await digestOf(join(ws.target, BIG_FILE))).toBe(big().sha256);
    expect(existsSync(join(ws.target, '.weights-manifest.json'))).toBe(true);
  });

  it('on SIGTERM exits 143 with the reason in the termination log, keeps the partial file and releases the lock', async () => {
    const ws = await workspace('term');
    workspaces.push(ws);
    hub.faults = { rateBytesPerSecond: 16 * MiB };
    const first = startProvisioner(specFor(hub, files), testArgs(hub, ws));
    await waitForProgress(ws, 20 * MiB);
    first.child.kill('SIGTERM');
    const stopped = await first.done;

    expect(stopped.code).toBe(143);
    expect(stopped.lines.at(-1)).toMatchObject({ level: 'error', code: 'Interrupted' });
    expect(await readFile(ws.terminationLog, 'utf8')).toMatch(
      /Interrupted by SIGTERM; partial downloads are kept/,
    );
    const state = await savedState(ws);
    expect(doneOf(state)).toBeGreaterThanOrEqual(20 * MiB);

    hub.faults = {};
    hub.resetStats();
    const second = await runProvisioner(specFor(hub, files), testArgs(hub, ws));

    expect(second.code).toBe(0);
    expect(second.lines.some((l) => l.msg === 'Waiting for another provisioner that holds the lock')).toBe(
      false,
    );
    expect(hub.bytesServed.get(BIG_FILE)).toBe(big().size - doneOf(state));
    expect(await digestOf(join(ws.target, BIG_FILE))).toBe(big().sha256);
  });
});
