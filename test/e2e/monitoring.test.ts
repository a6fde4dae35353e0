/**
 * A real Prometheus (Debian's binary) scrapes the operator, a sidecar in front of the vLLM stub
 * (its /metrics carries vLLM's series too, as in the pod) and a static DCGM exporter exposition
 * on 127.0.0.1, while a short bounded load
 * runs; then every dashboard panel's query must return data and every alert and recording rule
 * must load and evaluate without error.
 *
 * The sidecar and the stub run as local processes, not in the kwok pod (kwok pods run nothing):
 * their scrape targets are labelled with the real serving pod's namespace and name, as a pod
 * scrape would label them. No test machine has a GPU, so the GPU panels read a static exposition
 * with the DCGM exporter's metric names and labels (test/observability/dcgm.ts).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildDashboard, panelQueries } from '../../scripts/dashboard/dashboard.ts';
import { type ControlPlane, eventually, freshNamespace } from '../harness/index.ts';
import { Component, freePort } from '../harness/processes.ts';
import { dcgmExposition } from '../observability/dcgm.ts';
import { withoutGrafanaVariables } from '../observability/metric-names.ts';
import { prometheusBinary } from '../observability/prometheus-tools.ts';
import { type MainProcess, startMain } from '../sidecar/main-process.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { startE2eCluster } from './cluster.ts';
import { type InProcessOperator, startOperator } from './operator.ts';

const ALERT_RULES = join(
  import.meta.dirname,
  '..',
  '..',
  'charts',
  'pixtral-operator',
  'files',
  'alerts.yaml',
);
const MODEL = 'mistral/pixtral-12b-2409:bf16';
const KEYS = { 'team-a': 'pxd_monitoring-test-key-a', 'team-b': 'pxd_monitoring-test-key-b' };

let cp: ControlPlane;
let kc: KubeConfig;
let operator: InProcessOperator;
let stub: UpstreamStub;
let sidecar: MainProcess;
let dcgm: Server;
let prometheus: Component;
let prometheusUrl: string;
let namespace: string;
const dir = mkdtempSync(join(tmpdir(), 'pxd-monitoring-'));

const listening = (server: Server): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
const hostOf = (url: string): string => new URL(url).host;

/** An instant query; the result vector. */
async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: never[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

/** One chat request through the sidecar; resolves with the status once the answer has ended. */
async function chat(key: string, stream: boolean): Promise<number> {
  const res = await fetch(`${sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL,
      stream,
      max_tokens: 8,
      messages: [{ role: 'user', content: 'Describe the picture in one sentence.' }],
    }),
  });
  await res.text();
  return res.status;
}

beforeAll(async () => {
  ({ cp, kc } = await startE2eCluster({ h100: 1, h100x2: 0, volumes: 2 }));
  operator = await startOperator(kc, {});
  namespace = await freshNamespace(kc, 'monitoring');
  await cp.kubectl(['apply', '-n', namespace, '-f', '-'], {
    input: stringify({
      apiVersion: 'inference.pixtral.dev/v1alpha1',
      kind: 'PixtralDeployment',
      metadata: { name: 'vision' },
      spec: { model: MODEL, nodeType: 'H100' },
    }),
  });
  const wait = await cp.kubectl([
    'wait',
    '--for=condition=Ready',
    'pxd/vision',
    '-n',
    namespace,
    '--timeout=120s',
  ]);
  expect(wait.code, wait.stderr).toBe(0);
  const pods = JSON.parse(
    (
      await cp.kubectl([
        'get',
        'pods',
        '-n',
        namespace,
        '-l',
        'app.kubernetes.io/instance=vision,app.kubernetes.io/component=server',
        '-o',
        'json',
      ])
    ).stdout,
  ) as { items: { metadata: { name: string } }[] };
  const pod = pods.items[0]?.metadata.name ?? '';
  expect(pod).toMatch(/^vision-pixtral-[a-z0-9]+-[a-z0-9]+$/);

  stub = await startUpstreamStub({ tokens: 16, tokenIntervalMs: 5, latencyMs: 30 });
  const keyFile = join(dir, 'hashes');
  writeFileSync(
    keyFile,
    Object.entries(KEYS)
      .map(([id, key]) => `${id}:${createHash('sha256').update(key).digest('hex')}\n`)
      .join(''),
  );
  // Two upstream slots and two queue places: a burst of six gets queued and refused (429) for real.
  sidecar = await startMain({
    UPSTREAM_URL: stub.url,
    API_KEY_HASHES_FILE: keyFile,
    MAX_CONCURRENT_UPSTREAM: '2',
    MAX_QUEUE: '2',
    SHUTDOWN_DELAY_MS: '0',
  });
  dcgm = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(dcgmExposition([{ namespace, pod, gpu: 0 }]));
  });
  const dcgmPort = await listening(dcgm);

  const servingPod = { namespace, pod };
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [ALERT_RULES],
      scrape_configs: [
        // The operator's gauges carry the resource's namespace: keep it, as the chart's ServiceMonitor does.
        {
          job_name: 'operator',
          honor_labels: true,
          static_configs: [{ targets: [hostOf(operator.manager.healthUrl ?? '')] }],
        },
        // vLLM's series come through the sidecar's /metrics, as in the pod (vLLM listens on loopback only).
        { job_name: 'sidecar', static_configs: [{ targets: [hostOf(sidecar.url)], labels: servingPod }] },
        { job_name: 'dcgm', honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${dcgmPort}`] }] },
      ],
    }),
  );
  mkdirSync(join(dir, 'logs'));
  prometheus = new Component(dir, 'prometheus', prometheusBinary('prometheus'), [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  prometheus.start();
  await eventually(
    async () => {
      prometheus.assertRunning();
      expect((await fetch(`${prometheusUrl}/-/ready`)).status).toBe(200);
      // Targets are picked up a few seconds after start: the load must come after their first scrape.
      expect((await query('up == 1')).map((r) => r.metric.job).sort()).toEqual([
        'dcgm',
        'operator',
        'sidecar',
      ]);
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}, 300_000);

afterAll(async () => {
  await prometheus?.stop();
  sidecar?.child.kill('SIGKILL');
  await stub?.close();
  dcgm?.close();
  await operator?.stop();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus scraping the operator, a sidecar, vLLM and the DCGM exporter', () => {
  it('has data for every dashboard panel after a short load', async () => {
    // Bounded load: five bursts of six chat requests (streams and not, two keys) and one bad key.
    const statuses: number[] = [];
    for (let burst = 0; burst < 5; burst++) {
      const requests = Array.from({ length: 6 }, (_, i) =>
        chat(i % 2 ? KEYS['team-a'] : KEYS['team-b'], i % 3 === 0),
      );
      requests.push(chat('pxd_not-a-key', false));
      statuses.push(...(await Promise.all(requests)));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(statuses).toContain(200);
    expect(statuses).toContain(429);
    expect(statuses).toContain(401);

    const values = { namespace, name: 'vision', key: '.+', __rate_interval: '1m' };
    const queries = panelQueries(buildDashboard());
    await eventually(
      async () => {
        const empty: string[] = [];
        for (const { panel, expr } of queries) {
          const result = await query(withoutGrafanaVariables(expr, values));
          if (!result.some((r) => Number.isFinite(Number(r.value[1])))) empty.push(`${panel}: ${expr}`);
        }
        expect(empty).toEqual([]);
      },
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
  });

  it('loads every alert and recording rule, evaluates them without error, and names the deployment from its pods', async () => {
    interface RuleState {
      name: string;
      health: string;
      lastError?: string;
    }
    const rules = await eventually(
      async () => {
        const res = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
          data: { groups: { rules: RuleState[] }[] };
        };
        const all = res.data.groups.flatMap((g) => g.rules);
        expect(
          all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
        ).toEqual([]);
        return all;
      },
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
    expect(rules.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'PixtralDeploymentNotReady',
        'PixtralGPUMemoryNearlyFull',
        'pixtral:sidecar_requests:rate5m',
      ]),
    );
    const byDeployment = await query(`pixtral:sidecar_requests:rate5m{namespace="${namespace}"}`);
    expect(new Set(byDeployment.map((r) => r.metric.name))).toEqual(new Set(['vision']));
    // Ready, so the not-Ready alert stays quiet.
    expect(await query('ALERTS{alertname="PixtralDeploymentNotReady"}')).toEqual([]);
  });
});
