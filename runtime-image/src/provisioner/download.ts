/**
 * Downloads one file into `.partial/`, resuming from an earlier run, over as many range connections
 * as help (segment-pool.ts), hashing in order as the bytes land (ordered-hasher.ts), and moves it to
 * its final name only once its SHA-256 matches the catalog.
 */

import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { expectedDigest, methodLabel } from './digest.ts';
import type { DownloadContext } from './download-context.ts';
import { ProvisionError } from './errors.ts';
import { fetchRun, splitTail } from './fetch-run.ts';
import { BackgroundSync, renameDurable } from './fs-atomic.ts';
import { OrderedHasher } from './ordered-hasher.ts';
import {
  doneBytes,
  freshState,
  frontier,
  type PartialPaths,
  type PartialState,
  partialPaths,
  removePartial,
  StateSaver,
} from './partial.ts';
import { withRetry } from './retry.ts';
import { runSegmentPool } from './segment-pool.ts';
import type { ModelFile } from './spec.ts';

const STATE_SAVE_MS = 1000;
const RAMP_MS = 1000;
const BACKGROUND_SYNC_BYTES = 128 * 1024 * 1024;
const MAX_RESTARTS = 2;

/**
 * Downloads `file` to `<target>/<name>`, verified, resuming from `resumed` (its valid resume record
 * from loadPartial, if any).
 */
export async function downloadFile(
  ctx: DownloadContext,
  file: ModelFile,
  resumed: PartialState | undefined,
): Promise<void> {
  const paths = partialPaths(ctx.target, file.name);
  await mkdir(dirname(paths.data), { recursive: true });
  for (let restart = 0; ; restart++) {
    let state = restart === 0 ? resumed : undefined;
    if (state !== undefined && doneBytes(state) > 0) {
      ctx.progress.reused(doneBytes(state));
      ctx.log.info({ file: file.name, bytes: doneBytes(state), size: file.size }, 'Resumed partial download');
    } else {
      state = freshState(file);
      await writeFile(paths.data, '');
    }
    try {
      await fetchAndVerify(ctx, file, paths, state);
      break;
    } catch (err) {
      if (!(err instanceof ProvisionError && err.code === 'ContentChanged') || restart >= MAX_RESTARTS)
        throw err;
      ctx.log.warn({ file: file.name, reason: err.message }, 'Restarted download from the first byte');
      ctx.progress.discarded(doneBytes(state));
      await removePartial(paths);
    }
  }
  const final = join(ctx.target, file.name);
  await mkdir(dirname(final), { recursive: true });
  await renameDurable(paths.data, final);
  await rm(paths.state, { force: true });
}

async function fetchAndVerify(
  ctx: DownloadContext,
  file: ModelFile,
  paths: PartialPaths,
  state: PartialState,
) {
  const handle = await open(paths.data, 'r+');
  try {
    const expected = expectedDigest(file);
    const hasher = new OrderedHasher(paths.data, () => frontier(state), expected.method, file.size);
    const flusher = new BackgroundSync(handle, BACKGROUND_SYNC_BYTES);
    hasher.pump();
    try {
      await fetchSegments(ctx, file, paths, state, handle, (bytes) => {
        ctx.progress.transferred(bytes);
        hasher.pump();
        flusher.written(bytes);
      });
    } catch (err) {
      await hasher.close();
      throw err;
    } finally {
      await flusher.settle();
    }
    const actual = await hasher.digest(file.size);
    if (actual !== expected.hex) {
      await handle.close();
      await removePartial(paths);
      throw new ProvisionError(
        'DigestMismatch',
        'terminal',
        `${file.name}: ${methodLabel(expected.method)} mismatch: expected ${expected.hex}, got ${actual}; the download was deleted`,
        {
          detail: {
            file: file.name,
            expected: `${expected.method}:${expected.hex}`,
            got: `${expected.method}:${actual}`,
          },
        },
      );
    }
    await handle.sync();
  } finally {
    await handle.close().catch(() => {});
  }
}

async function fetchSegments(
  ctx: DownloadContext,
  file: ModelFile,
  paths: PartialPaths,
  state: PartialState,
  handle: FileHandle,
  onWritten: (bytes: number) => void,
): Promise<void> {
  const saver = new StateSaver(paths);
  await saver.save(state);
  const timer = setInterval(() => void saver.save(state), STATE_SAVE_MS);
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const segmentCtx = { ...ctx, signal };
  // Known after the first response; a resumed download used ranges already.
  let rangesOk = state.segments.length > 1 || doneBytes(state) > 0;
  try {
    let written = doneBytes(state);
    await runSegmentPool({
      segments: state.segments,
      parallelism: ctx.parallelism,
      rampMs: RAMP_MS,
      bytes: () => written,
      split: () => rangesOk && splitTail(state, ctx.segmentSize),
      onResize: (connections) =>
        ctx.log.info({ file: file.name, connections }, 'Changed the number of connections'),
      fetch: (run) =>
        withRetry(
          () =>
            fetchRun(
              segmentCtx,
              file,
              state,
              run,
              handle,
              () => (rangesOk = true),
              (bytes) => {
                written += bytes;
                onWritten(bytes);
              },
            ),
          {
            policy: ctx.retry,
            signal,
            progress: () => run.reduce((sum, s) => sum + s.done, 0),
            onRetry: (err, failures, delayMs) => logRetry(ctx, file, err, failures, delayMs),
          },
        ).catch((err: unknown) => {
          // One failed segment stops the others: no point fetching the rest of a file being given up.
          stop.abort(err);
          throw err;
        }),
    });
  } catch (err) {
    throw ctx.signal.aborted ? (ctx.signal.reason ?? err) : err;
  } finally {
    clearInterval(timer);
    await saver.save(state);
  }
}

function logRetry(
  ctx: DownloadContext,
  file: ModelFile,
  err: ProvisionError,
  failures: number,
  delayMs: number,
) {
  ctx.log.warn(
    { file: file.name, code: err.code, reason: err.message, failures, delayMs },
    'Retrying after a transient error',
  );
}
