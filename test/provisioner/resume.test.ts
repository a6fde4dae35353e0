import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  BIG_FILE,
  digestOf,
  runProvisioner,
  specFor,
  startProvisioner,
  testArgs,
  useTestHub,
  type Workspace,
} from './fixtures.ts';

interface SavedState {
  segments: { start: number; end: number; done: number }[];
}

const env = useTestHub();
const MiB = 1024 * 1024;

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

describe('provision-weights resume', () => {
  it('after SIGKILL mid-file, a new run takes over the stale lock and fetches only the bytes not yet written', async () => {
    const ws = await env.workspace('kill');
    // Slow enough that the kill lands mid-file on any machine.
    env.hub.faults = { rateBytesPerSecond: 16 * MiB };
    const first = startProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws));
    await waitForProgress(ws, 40 * MiB);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');

    expect(existsSync(join(ws.target, BIG_FILE))).toBe(false);
    expect(existsSync(join(ws.target, '.weights-manifest.json'))).toBe(false);
    const state = await savedState(ws);
    expect(state?.segments.length).toBeGreaterThan(1);
    const remaining = env.big().size - doneOf(state);
    expect(remaining).toBeLessThan(env.big().size - 40 * MiB);

    env.hub.faults = {};
    env.hub.resetStats();
    const second = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws));

    expect(second.code, JSON.stringify(second.lines.at(-1))).toBe(0);
    expect(second.lines.some((l) => l.msg === 'Waiting for another provisioner that holds the lock')).toBe(
      true,
    );
    expect(second.lines.find((l) => l.msg === 'Resumed partial download')).toMatchObject({
      bytes: doneOf(state),
    });
    expect(env.hub.bytesServed.get(BIG_FILE)).toBe(remaining);
    expect(await digestOf(join(ws.target, BIG_FILE))).toBe(env.big().sha256);
    expect(existsSync(join(ws.target, '.weights-manifest.json'))).toBe(true);
  });

  it('on SIGTERM exits 143 with the reason in the termination log, keeps the partial file and releases the lock', async () => {
    const ws = await env.workspace('term');
    env.hub.faults = { rateBytesPerSecond: 16 * MiB };
    const first = startProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws));
    await waitForProgress(ws, 20 * MiB);
    first.child.kill('SIGTERM');
    const stopped = await first.done;

    expect(stopped.code).toBe(143);
    expect(stopped.lines.at(-1)).toMatchObject({ level: 'error', code: 'Interrupted' });
    expect(JSON.parse(await readFile(ws.terminationLog, 'utf8'))).toMatchObject({
      code: 'Interrupted',
      message: expect.stringMatching(/Interrupted by SIGTERM; partial downloads are kept/),
    });
    const state = await savedState(ws);
    expect(doneOf(state)).toBeGreaterThanOrEqual(20 * MiB);

    env.hub.faults = {};
    env.hub.resetStats();
    const second = await runProvisioner(specFor(env.hub, env.files), testArgs(env.hub, ws));

    expect(second.code).toBe(0);
    expect(second.lines.some((l) => l.msg === 'Waiting for another provisioner that holds the lock')).toBe(
      false,
    );
    expect(env.hub.bytesServed.get(BIG_FILE)).toBe(env.big().size - doneOf(state));
    expect(await digestOf(join(ws.target, BIG_FILE))).toBe(env.big().sha256);
  });
});
