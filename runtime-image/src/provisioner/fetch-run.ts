/**
 * One request of a download: a run of adjacent segments fetched with Range/If-Range from where the
 * first unfinished one stopped, written segment by segment, with every way the server can answer
 * wrong turned into a ProvisionError. Also how the tail is split off for another connection.
 */
import type { FileHandle } from 'node:fs/promises';
import type { DownloadContext } from './download-context.ts';
import { classifyError, ProvisionError } from './errors.ts';
import { discard, isStrongEtag, type OpenedBody, openBody, redactUrl } from './http.ts';
import { type PartialState, type Segment, splitSegments } from './partial.ts';
import { SegmentWriter } from './segment-writer.ts';
import type { ModelFile } from './spec.ts';

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
export async function fetchRun(
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
          writer.finish();
          segment = run[++index]!;
          writer = new SegmentWriter(handle, segment, file.name, onWritten);
        }
        const part =
          chunk.length <= segment.end - position ? chunk : chunk.subarray(0, segment.end - position);
        position += part.length;
        writer.push(part);
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
    // What arrived is good data even if the connection then broke: keep it for the retry. A failed
    // write outranks the error in flight (a full disk is why nothing can go on).
    try {
      writer.finish();
    } catch (err) {
      // biome-ignore lint/correctness/noUnsafeFinally: see above.
      throw classifyError(err, `Writing ${file.name}`);
    }
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
export function splitTail(state: PartialState, segmentSize: number): boolean {
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
