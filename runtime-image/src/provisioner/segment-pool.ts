/**
 * Fetches a file's segments with as many connections as actually help, up to `parallelism`.
 *
 * A fresh download starts as one request for the whole file. Every `rampMs` the rate of the last
 * interval is measured; while each connection carries less than 192 MiB/s, the event loop had time
 * to spare (it waited for bytes) and the last added one gained at least 25%, another connection is
 * added: `split` cuts the tail of the file into segments (the running request stops at the cut) and
 * the new connection takes them in file order, so the in-order hash (ordered-hasher.ts) trails the
 * download by about one segment per connection. A
 * connection that did not help is retired after its current segment. A CDN's per-connection limit
 * makes every connection count; from a local mirror one stream already saturates the CPU, and a
 * fixed four range streams measured 0.55-0.87x of sha256sum against 0.90-1.05x for one stream
 * (bench/provisioner.ts), so the count is found at run time, not fixed. Once the count has settled
 * at one, the rest goes as a single request: a request per segment idled the pipe 10-25 ms each.
 */
import type { Segment } from './partial.ts';

const GAIN = 1.25;
// Above this rate per connection the link is not what limits the run: hashing and writing are (one
// connection from a local mirror gave ~300-500 MiB/s here, with a 1.5 GB/s hash). A second
// connection then only takes CPU from them: runs that tried one were 20-30% slower to the end.
const PER_CONNECTION_ENOUGH = 192 * 1024 * 1024;
// Share of the last interval the event loop was busy (hashing, writing, parsing) above which this
// process, not the link, limits the run: on a busy machine one local stream can fall below
// PER_CONNECTION_ENOUGH while the loop never waits for bytes, and another connection then only takes
// CPU from it and holds back the in-order hash (ordered-hasher.ts). A per-connection limit leaves it
// idle.
// Measured as wall time, so a loop starved of CPU by other processes also counts as busy.
const LOOP_BUSY = 0.75;

function isComplete(segment: Segment): boolean {
  return segment.start + segment.done >= segment.end;
}

/** Runs `fetch` over every segment; rejects with the first failure after all connections stopped. */
export async function runSegmentPool(options: {
  segments: Segment[];
  parallelism: number;
  /** Fetches the rest of a run of adjacent segments in one request (retrying as it sees fit). */
  fetch: (run: Segment[]) => Promise<void>;
  /** Adds segments (by cutting the last one) for a new connection; false when it cannot. */
  split: () => boolean;
  /** Bytes written so far for this file; its growth is the rate. */
  bytes: () => number;
  /** Called with the new connection count when the pool grows or shrinks. */
  onResize: (connections: number) => void;
  /** Interval between rate measurements, in ms. */
  rampMs: number;
}): Promise<void> {
  const { segments, fetch } = options;
  let next = 0;
  let allowed = 0;
  let failure: { error: unknown } | undefined;
  const running: Promise<void>[] = [];

  // One segment per request while connections may still be added; once the count settled at one,
  // the rest goes as one request. Only untouched segments join a run (a resumed one has a hole).
  const claim = (): Segment[] => {
    while (next < segments.length && isComplete(segments[next]!)) next++;
    const run = segments.slice(next, next + 1);
    if (!ramping && allowed === 1) {
      while (next + run.length < segments.length && segments[next + run.length]!.done === 0) {
        run.push(segments[next + run.length]!);
      }
    }
    next += run.length;
    return run;
  };

  const nothingLeft = () => {
    while (next < segments.length && isComplete(segments[next]!)) next++;
    return next >= segments.length && !options.split();
  };

  const spawn = () => {
    const id = allowed++;
    running.push(
      (async () => {
        while (id < allowed && failure === undefined) {
          const run = claim();
          if (run.length === 0) return;
          await fetch(run);
        }
      })().catch((error: unknown) => {
        failure ??= { error };
      }),
    );
  };

  let ramping = options.parallelism > 1;
  let lastBytes = options.bytes();
  let lastAt = performance.now();
  let lastLoop = performance.eventLoopUtilization();
  let rateBeforeGrowth: number | undefined;
  const timer = setInterval(() => {
    const now = performance.now();
    const rate = (options.bytes() - lastBytes) / ((now - lastAt) / 1000);
    lastBytes = options.bytes();
    lastAt = now;
    const loop = performance.eventLoopUtilization(lastLoop);
    lastLoop = performance.eventLoopUtilization();
    if (!ramping || failure !== undefined) return;
    if (rateBeforeGrowth !== undefined && rate < rateBeforeGrowth * GAIN) {
      ramping = false;
      allowed--;
      options.onResize(allowed);
      return;
    }
    if (allowed >= options.parallelism || rate / allowed >= PER_CONNECTION_ENOUGH || nothingLeft()) {
      ramping = false;
      return;
    }
    // Not the end of the ramp: the loop may be busy for a while only (hashing a resumed prefix).
    if (loop.utilization >= LOOP_BUSY) return;
    rateBeforeGrowth = rate;
    spawn();
    options.onResize(allowed);
  }, options.rampMs);
  timer.unref();

  try {
    spawn();
    // Workers may be added while we wait: settle until none is left running.
    for (let settled = 0; settled < running.length; ) {
      const batch = running.slice(settled);
      await Promise.all(batch);
      settled += batch.length;
    }
  } finally {
    clearInterval(timer);
  }
  if (failure !== undefined) throw failure.error;
}
