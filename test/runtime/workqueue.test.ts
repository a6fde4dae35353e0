import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../operator/src/runtime/clock.ts';
import { RuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import { WorkQueue } from '../../operator/src/runtime/workqueue.ts';

function newQueue(clock = new FakeClock(), extra: Partial<ConstructorParameters<typeof WorkQueue>[0]> = {}) {
  return {
    clock,
    queue: new WorkQueue({ name: 'test', clock, baseDelayMs: 100, maxDelayMs: 1000, ...extra }),
  };
}

/** Takes every key that is ready now without waiting. */
async function drainReady(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.length > 0) {
    const key = await queue.get();
    if (key === undefined) break;
    keys.push(key);
    queue.done(key);
  }
  return keys;
}

describe('WorkQueue', () => {
  it('folds duplicate adds of a waiting key into one', async () => {
    const { queue } = newQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.length).toBe(2);
    expect(await drainReady(queue)).toEqual(['ns/a', 'ns/b']);
  });

  it('never hands a key in flight to a second worker, and re-queues it on done when re-added', async () => {
    const { queue } = newQueue();
    queue.add('ns/a');
    const first = await queue.get();
    expect(first).toBe('ns/a');
    queue.add('ns/a');
    expect(queue.length).toBe(0);
    let second: string | undefined;
    void queue.get().then((k) => {
      second = k;
    });
    await flushMicrotasks();
    expect(second).toBeUndefined();
    queue.done('ns/a');
    await flushMicrotasks();
    expect(second).toBe('ns/a');
  });

  it('queues a key re-added several times while in flight only once', async () => {
    const { queue } = newQueue();
    queue.add('ns/a');
    const key = await queue.get();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.done(key!);
    expect(queue.length).toBe(1);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const { queue } = newQueue();
    const got = queue.get();
    queue.add('ns/late');
    expect(await got).toBe('ns/late');
  });

  it('runs N workers in parallel on distinct keys only', async () => {
    const { queue } = newQueue();
    const running = new Set<string>();
    let maxParallel = 0;
    let overlapOnOneKey = false;
    let reAdds = 0;
    const worker = async () => {
      for (;;) {
        const key = await queue.get();
        if (key === undefined) return;
        if (running.has(key)) overlapOnOneKey = true;
        running.add(key);
        maxParallel = Math.max(maxParallel, running.size);
        await flushMicrotasks();
        if (key === 'ns/k0' && reAdds++ < 3) queue.add(key); // re-added while in flight
        running.delete(key);
        queue.done(key);
      }
    };
    for (let i = 0; i < 20; i++) queue.add(`ns/k${i % 5}`);
    const workers = Array.from({ length: 3 }, worker);
    while (queue.length > 0 || queue.inFlight > 0) await flushMicrotasks();
    queue.shutDown();
    await Promise.all(workers);
    expect(overlapOnOneKey).toBe(false);
    expect(maxParallel).toBe(3);
    expect(reAdds).toBeGreaterThanOrEqual(3);
  });

  it('delays addAfter until the clock reaches it, folding to the earliest time', async () => {
    const { clock, queue } = newQueue();
    queue.addAfter('ns/a', 500);
    queue.addAfter('ns/a', 200);
    queue.addAfter('ns/a', 900);
    await clock.advance(199);
    expect(queue.length).toBe(0);
    await clock.advance(1);
    expect(queue.length).toBe(1);
    expect(await drainReady(queue)).toEqual(['ns/a']);
    await clock.advance(1000);
    expect(queue.length).toBe(0);
  });

  it('backs off per key exponentially up to the cap, and forget resets it', async () => {
    const { clock, queue } = newQueue();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const start = clock.now();
      queue.addRateLimited('ns/failing');
      while (queue.length === 0) await clock.advance(10);
      delays.push(clock.now() - start);
      await drainReady(queue);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(queue.numRequeues('ns/failing')).toBe(6);
    queue.forget('ns/failing');
    expect(queue.numRequeues('ns/failing')).toBe(0);
    expect(queue.backoffFor(queue.numRequeues('ns/failing'))).toBe(100);
  });

  it('keeps the backoff of one key independent of another', async () => {
    const { clock, queue } = newQueue();
    queue.addRateLimited('ns/a');
    queue.addRateLimited('ns/a');
    queue.addRateLimited('ns/b');
    await clock.advance(100);
    expect(await drainReady(queue)).toEqual(['ns/a', 'ns/b']);
    expect(queue.numRequeues('ns/a')).toBe(2);
    expect(queue.numRequeues('ns/b')).toBe(1);
  });

  it('on shutdown releases waiting workers, drops pending delays and refuses new keys', async () => {
    const { clock, queue } = newQueue();
    const waiting = queue.get();
    queue.addAfter('ns/later', 100);
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add('ns/new');
    await clock.advance(200);
    expect(queue.length).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });

  it('reports depth, adds and retries as metrics', async () => {
    const metrics = new RuntimeMetrics();
    const { clock, queue } = newQueue(new FakeClock(), { metrics });
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    queue.addRateLimited('ns/c');
    const text = await metrics.registry.metrics();
    expect(text).toContain('workqueue_depth{name="test"} 2');
    expect(text).toContain('workqueue_adds_total{name="test"} 3');
    expect(text).toContain('workqueue_retries_total{name="test"} 1');
    await clock.advance(100);
    expect(await metrics.registry.metrics()).toContain('workqueue_depth{name="test"} 3');
  });
});
