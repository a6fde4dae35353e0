/**
 * Fetches a file's segments with as many connections as actually help, up to `parallelism`.
 *
 * Segments are taken in file order, so the in-order hash (ordered-hasher.ts) trails the download by
 * at most one segment per connection. Connections are added one at a time: every `rampMs` the rate
 * of the last interval is compared with the rate before the last connection was added; a new one is
 * added while that gained at least 25%, and the last one is retired (after its current segment) once
 * it did not. Per-connection limits of a CDN make each connection count; against a local mirror a
 * single stream already saturates the CPU, and four streams measured 0.87x of sha256sum against 0.98x
 * for one (bench/provisioner.ts), so the count has to be found, not fixed.
 */
import type { Segment } from './partial.ts';

const GAIN = 1.25;

/** Runs `fetch` over every segment; rejects with the first failure after all connections stopped. */
export async function runSegmentPool(options: {
  segments: Segment[];
  parallelism: number;
  /** Fetches the rest of one segment (retrying as it sees fit). */
  fetch: (segment: Segment) => Promise<void>;
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

  const spawn = () => {
    const id = allowed++;
    running.push(
      (async () => {
        while (id < allowed && failure === undefined) {
          const segment = segments[next++];
          if (segment === undefined) return;
          await fetch(segment);
        }
      })().catch((error: unknown) => {
        failure ??= { error };
      }),
    );
  };

  let ramping = options.parallelism > 1;
  let lastBytes = options.bytes();
  let lastAt = performance.now();
  let rateBeforeGrowth: number | undefined;
  const timer = setInterval(() => {
    const now = performance.now();
    const rate = (options.bytes() - lastBytes) / ((now - lastAt) / 1000);
    lastBytes = options.bytes();
    lastAt = now;
    if (!ramping || failure !== undefined) return;
    if (rateBeforeGrowth !== undefined && rate < rateBeforeGrowth * GAIN) {
      ramping = false;
      allowed--;
      options.onResize(allowed);
      return;
    }
    if (allowed >= options.parallelism || next >= segments.length) {
      ramping = false;
      return;
    }
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
