import { Gauge } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type HealthServer, startHealthServer } from './health.ts';
import { RuntimeMetrics } from './metrics.ts';

let server: HealthServer | undefined;
afterEach(() => server?.close());

const serving = async (metrics: RuntimeMetrics, unsynced: string[] = []) => {
  server = await startHealthServer(
    { metrics, unsynced: () => unsynced, stopping: () => false },
    '127.0.0.1',
    0,
  );
  return server.url;
};

describe('the health server', () => {
  it('streams /metrics as the text of every piece, in order', async () => {
    const metrics = new RuntimeMetrics();
    metrics.leader.set(1);
    const lines = Array.from({ length: 2000 }, (_, i) => `series_${i} ${i}\n`);
    metrics.addText(function* () {
      for (let i = 0; i < lines.length; i += 100) yield lines.slice(i, i + 100).join('');
    });
    const response = await fetch(`${await serving(metrics)}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toBe(await metrics.exposition());
    expect(text).toContain('leader_election_master_status 1\n');
    expect(text.endsWith(lines.join(''))).toBe(true);
  });

  it('answers 500 with the reason when the metrics cannot be printed at all', async () => {
    const metrics = new RuntimeMetrics();
    new Gauge({
      name: 'broken',
      help: 'A gauge whose collect fails.',
      registers: [metrics.registry],
      collect() {
        throw new Error('collect failed');
      },
    });
    const response = await fetch(`${await serving(metrics)}/metrics`);
    expect(response.status).toBe(500);
    expect(await response.text()).toContain('collect failed');
  });

  it('is ready only once every cache has synced, and says which have not', async () => {
    const url = await serving(new RuntimeMetrics(), ['v1/Pod']);
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('v1/Pod');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
