/**
 * Where an unfinished download lives and how it is resumed. The bytes go to `.partial/<file>` in the
 * target folder (a hidden folder that neither the sidecar nor vLLM reads); beside them,
 * `.partial/<file>.state.json` records the server's ETag and how far each byte range got, so a new
 * run sends `Range` + `If-Range` from there. Only bytes whose write completed are recorded.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { expectedDigest } from './digest.ts';
import { writeFileAtomic } from './fs-atomic.ts';
import type { ModelFile } from './spec.ts';

/** The hidden folder, inside the target, that holds unfinished downloads. */
export const PARTIAL_DIR = '.partial';

/** One byte range of the file: `[start, end)`, of which the first `done` bytes are written. */
export interface Segment {
  start: number;
  end: number;
  done: number;
}

const PartialState = z.object({
  version: z.literal(1),
  /** The expected digest (SHA-256 or git blob id) the bytes belong to; another one starts over. */
  digest: z.string(),
  size: z.number().int().nonnegative(),
  etag: z.string().optional(),
  segments: z.array(
    z.object({
      start: z.number().int().nonnegative(),
      end: z.number().int(),
      done: z.number().int().nonnegative(),
    }),
  ),
});
/** The resume record of one file. */
export type PartialState = z.infer<typeof PartialState>;

/** The two paths of a partial download. */
export interface PartialPaths {
  data: string;
  state: string;
}

/** The partial paths of `name` in `target`. */
export function partialPaths(target: string, name: string): PartialPaths {
  const data = join(target, PARTIAL_DIR, name);
  return { data, state: `${data}.state.json` };
}

/** A fresh record: one segment over the whole file, nothing done. */
export function freshState(file: ModelFile): PartialState {
  return {
    version: 1,
    digest: expectedDigest(file).hex,
    size: file.size,
    segments: [{ start: 0, end: file.size, done: 0 }],
  };
}

/** Bytes already written across segments. */
export function doneBytes(state: PartialState): number {
  return state.segments.reduce((sum, segment) => sum + segment.done, 0);
}

/** How many bytes from offset 0 are written without a gap (segments are sorted and adjacent). */
export function frontier(state: PartialState): number {
  for (const segment of state.segments) {
    if (segment.start + segment.done < segment.end) return segment.start + segment.done;
  }
  return state.size;
}

/** Splits `[0, size)` into adjacent segments of `segmentSize` bytes (the last one shorter). */
export function splitSegments(size: number, segmentSize: number): Segment[] {
  const segments: Segment[] = [];
  for (let start = 0; start < size; start += segmentSize)
    segments.push({ start, end: Math.min(size, start + segmentSize), done: 0 });
  return segments;
}

/**
 * Loads the resume record for `file`, or undefined when there is none or it cannot be trusted: another
 * digest or size (the catalog changed), segments that do not tile the file, or data shorter than the
 * record claims.
 */
export async function loadPartial(paths: PartialPaths, file: ModelFile): Promise<PartialState | undefined> {
  let state: PartialState;
  try {
    state = PartialState.parse(JSON.parse(await readFile(paths.state, 'utf8')));
  } catch {
    return undefined;
  }
  if (state.digest !== expectedDigest(file).hex || state.size !== file.size) return undefined;
  let expectedStart = 0;
  let furthest = 0;
  for (const segment of state.segments) {
    if (
      segment.start !== expectedStart ||
      segment.end <= segment.start ||
      segment.done > segment.end - segment.start
    ) {
      return undefined;
    }
    expectedStart = segment.end;
    if (segment.done > 0) furthest = segment.start + segment.done;
  }
  if (expectedStart !== file.size && file.size > 0) return undefined;
  const dataSize = await stat(paths.data).then(
    (s) => s.size,
    () => -1,
  );
  return dataSize >= furthest ? state : undefined;
}

/** Saves resume records, one write at a time, so a periodic save never races the final one. */
export class StateSaver {
  readonly #paths: PartialPaths;
  #chain: Promise<void> = Promise.resolve();

  /** @param paths where the record goes. */
  constructor(paths: PartialPaths) {
    this.#paths = paths;
  }

  /** Queues a save of `state` as it is now; the returned promise settles when it is on disk. */
  save(state: PartialState): Promise<void> {
    const json = JSON.stringify(state);
    this.#chain = this.#chain.then(() => writeFileAtomic(this.#paths.state, json, false)).catch(() => {});
    return this.#chain;
  }
}

/** Deletes a partial download and its record. */
export async function removePartial(paths: PartialPaths): Promise<void> {
  await rm(paths.data, { force: true });
  await rm(paths.state, { force: true });
}
