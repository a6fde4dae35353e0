/**
 * Downloads one file into `.partial/`, resuming from an earlier run, in parallel byte ranges when the
 * file is large and the server honours Range, hashing in order as the bytes land (ordered-hasher.ts),
 * and moves it to its final name only once its SHA-256 matches the catalog.
 */

import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { classifyError, ProvisionError } from './errors.ts';
import { BackgroundSync, renameDurable } from './fs-atomic.ts';
import { discard, isStrongEtag, type OpenedBody, openBody, redactUrl } from './http.ts';
import { OrderedHasher } from './ordered-hasher.ts';
import {
  doneBytes,
  freshState,
  frontier,
  loadPartial,
  type PartialPaths,
  type PartialState,
  partialPaths,
  removePartial,
  type Segment,
  StateSaver,
  splitSegments,
} from './partial.ts';
import type { Progress } from './progress.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import { runSegmentPool } from './segment-pool.ts';
import { SegmentWriter } from './segment-writer.ts';
import type { ModelFile } from './spec.ts';

const STATE_SAVE_MS = 1000;
const RAMP_MS = 1000;
const BACKGROUND_SYNC_BYTES = 128 * 1024 * 1024;
const MAX_RESTARTS = 2;

/** Everything a download needs besides the file. */
export interface DownloadContext {
  dispatcher: Dispatcher;
  url: string;
  token: string | undefined;
  target: string;
  parallelism: number;
  /** Files of at least twice this size go as ranges of this size when the server supports Range. */
  segmentSize: number;
  retry: RetryPolicy;
  progress: Progress;
  log: Logger;
  signal: AbortSignal;
}

/** Downloads `file` to `<target>/<name>`, verified. Resolves with the bytes transferred in this run. */
export async function downloadFile(ctx: DownloadContext, file: ModelFile): Promise<void> {
  const paths = partialPaths(ctx.target, file.name);
  await mkdir(dirname(paths.data), { recursive: true });
  for (let restart = 0; ; restart++) {
    let state = restart === 0 ? await loadPartial(paths, file) : undefined;
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
    const hasher = new OrderedHasher(paths.data, () => frontier(state));
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
    if (actual !== file.sha256) {
      await handle.close();
      await removePartial(paths);
      throw new ProvisionError(
        'DigestMismatch',
        'terminal',
        `${file.name}: SHA-256 mismatch: expected ${file.sha256}, got ${actual}; the download was deleted`,
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

function request(
  ctx: DownloadContext,
  range: { start: number; end: number } | undefined,
  etag: string | undefined,
) {
  return {
    url: ctx.url,
    token: ctx.token,
    range,
    ifRange: isStrongEtag(etag) ? etag : undefined,
    signal: ctx.signal,
  };
}

function checkTotal(file: ModelFile, opened: OpenedBody): void {
  const total = opened.contentRange?.total ?? opened.contentLength;
  if (total !== undefined && total !== file.size) {
    discard(opened.body);
    throw new ProvisionError(
      'SizeMismatch',
      'terminal',
      `${file.name}: the server has ${total} bytes but the catalog says ${file.size}`,
    );
  }
}

/**
 * Fetches the rest of a run of adjacent segments in one request (Range from where the first unfinished
 * one stopped to the run's end, If-Range on the recorded ETag), writing each segment's part through
 * its own SegmentWriter as the stream crosses segment boundaries.
 */
async function fetchRun(
  ctx: DownloadContext,
  file: ModelFile,
  state: PartialState,
  run: Segment[],
  handle: FileHandle,
  onRanges: () => void,
  onWritten: (bytes: number) => void,
): Promise<void> {
  let index = run.findIndex((s) => s.start + s.done < s.end);
  let segment = run[index];
  if (segment === undefined) return;
  let position = segment.start + segment.done;
  // A split (splitTail) may shorten the run while this response streams: it stops at the new end.
  const end = run.at(-1)!.end;
  const ranged = state.segments.length > 1 || position > 0;
  let opened: OpenedBody;
  try {
    opened = await openBody(
      ctx.dispatcher,
      request(ctx, ranged ? { start: position, end } : undefined, state.etag),
    );
  } catch (err) {
    throw classifyError(err, `Request for ${file.name}`);
  }
  if (ranged && opened.status === 200) {
    discard(opened.body);
    const changed = state.etag !== undefined && opened.etag !== state.etag;
    throw new ProvisionError(
      'ContentChanged',
      'terminal',
      changed
        ? `${file.name} changed on the server (ETag ${state.etag} -> ${opened.etag})`
        : `${file.name}: the server ignored the Range request`,
    );
  }
  if (opened.status === 206 && opened.contentRange?.start !== position) {
    discard(opened.body);
    throw new ProvisionError(
      'HttpError',
      'terminal',
      `${file.name}: the server answered a different range than asked`,
    );
  }
  checkTotal(file, opened);
  if (!isStrongEtag(state.etag) && state.etag !== undefined && opened.etag !== state.etag) {
    discard(opened.body);
    throw new ProvisionError('ContentChanged', 'terminal', `${file.name} changed on the server (weak ETag)`);
  }
  state.etag ??= opened.etag;
  if (opened.acceptRanges) onRanges();

  let writer = new SegmentWriter(handle, segment, file.name, onWritten);
  try {
    for await (const received of opened.body as AsyncIterable<Buffer>) {
      if (position + received.length > end) {
        throw new ProvisionError(
          'SizeMismatch',
          'terminal',
          `${file.name}: the server sent more bytes than the catalog size`,
        );
      }
      let chunk = received;
      while (chunk.length > 0 && position < run.at(-1)!.end) {
        if (position >= segment.end) {
          await writer.finish();
          segment = run[++index]!;
          writer = new SegmentWriter(handle, segment, file.name, onWritten);
        }
        const part =
          chunk.length <= segment.end - position ? chunk : chunk.subarray(0, segment.end - position);
        position += part.length;
        await writer.push(part);
        chunk = chunk.subarray(part.length);
      }
      if (position >= run.at(-1)!.end && position < end) {
        discard(opened.body); // Shortened by a split: the rest of this response is another connection's.
        break;
      }
    }
  } catch (err) {
    discard(opened.body);
    throw classifyError(err, `Download of ${file.name} from ${redactUrl(ctx.url)}`);
  } finally {
    // What arrived is good data even if the connection then broke: keep it for the retry.
    await writer.finish();
  }
  if (position < run.at(-1)!.end) {
    throw new ProvisionError(
      'NetworkError',
      'transient',
      `Download of ${file.name}: the connection closed at byte ${position} of ${run.at(-1)!.end}`,
    );
  }
}

/**
 * Gives the tail of the file to a new connection: the last segment is cut at a segment boundary far
 * enough ahead of what its connection already wrote (its queued writes included), and the rest is
 * appended as new segments. Returns false when too little is left to be worth another connection.
 */
function splitTail(state: PartialState, segmentSize: number): boolean {
  const tail = state.segments.at(-1)!;
  const lead = Math.max(segmentSize, 32 * 1024 * 1024);
  const cut = Math.ceil((tail.start + tail.done + lead) / segmentSize) * segmentSize;
  if (tail.end - cut < segmentSize) return false;
  const rest = splitSegments(tail.end - cut, segmentSize).map((s) => ({
    ...s,
    start: s.start + cut,
    end: s.end + cut,
  }));
  tail.end = cut;
  state.segments.push(...rest);
  return true;
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
