import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastHistogram } from './fast-metrics.ts';

/** The same metric made by prom-client and by fast-metrics.ts, each on its own registry. */
function pair<T>(make: (registry: Registry) => T): [T, Registry] {
  const registry = new Registry();
  return [make(registry), registry];
}

describe('fast metrics', () => {
  it('export a labelled histogram as prom-client does, to the byte', async () => {
    const buckets = [0.001, 0.005, 0.025, 0.1, 1];
    const config = {
      name: 'h_seconds',
      help: 'Time taken',
      labelNames: ['route', 'stream'] as const,
      buckets,
    };
    const [theirs, theirRegistry] = pair(
      (r) => new Histogram({ ...config, labelNames: [...config.labelNames], registers: [r] }),
    );
    const [ours, ourRegistry] = pair((r) => new FastHistogram({ ...config, registers: [r] }));
    const observations: [string, string, number][] = [
      ['chat', 'false', 0.0004],
      ['chat', 'false', 0.001],
      ['chat', 'true', 0.02],
      ['chat', 'false', 7],
      ['models', 'false', 0.1],
    ];
    for (const [route, stream, value] of observations) {
      theirs.labels({ route, stream }).observe(value);
      ours.labels({ route, stream }).observe(value);
    }
    // A child bound but never observed does not appear, as in prom-client.
    ours.labels({ route: 'health', stream: 'false' });
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
  });

  it('export an unlabelled histogram as prom-client does, even before its first observation', async () => {
    const config = { name: 'tokens', help: 'Prompt tokens', buckets: [16, 256, 4096] };
    const [theirs, theirRegistry] = pair((r) => new Histogram({ ...config, registers: [r] }));
    const [ours, ourRegistry] = pair((r) => new FastHistogram({ ...config, registers: [r] }));
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
    for (const value of [3, 16, 17, 5000]) {
      theirs.observe(value);
      ours.observe(value);
    }
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
  });

  it('export a labelled counter as prom-client does, a child appearing once incremented', async () => {
    const config = { name: 'requests_total', help: 'Requests', labelNames: ['key', 'status_class'] as const };
    const [theirs, theirRegistry] = pair(
      (r) => new Counter({ ...config, labelNames: [...config.labelNames], registers: [r] }),
    );
    const [ours, ourRegistry] = pair((r) => new FastCounter({ ...config, registers: [r] }));
    const unused = ours.labels({ key: 'idle', status_class: '2xx' });
    expect(unused).toBeDefined();
    for (const [key, status_class, n] of [
      ['team-a', '2xx', 1],
      ['team-a', '2xx', 2],
      ['team-b', '4xx', 1],
      ['team-c', '2xx', 0],
    ] as const) {
      theirs.labels({ key, status_class }).inc(n);
      ours.labels({ key, status_class }).inc(n);
    }
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
  });

  it('start from zero after a registry reset', async () => {
    const [ours, registry] = pair(
      (r) => new FastCounter({ name: 'c_total', help: 'c', labelNames: ['k'], registers: [r] }),
    );
    ours.labels({ k: 'a' }).inc(5);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('c_total{k="a"}');
  });

  it('refuses a missing label instead of exporting a wrong series', () => {
    const ours = new FastHistogram({ name: 'h', help: 'h', labelNames: ['route'], buckets: [1] });
    expect(() => ours.labels({} as { route: string })).toThrow(/label route is missing/);
  });
});
