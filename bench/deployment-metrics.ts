/**
 * What one Prometheus scrape of the operator's per-deployment gauges costs, against the same
 * samples set through prom-client's own gauges (how they were exported before), in the same run:
 * N synthetic Ready PixtralDeployments with all seven conditions (about 30 series each).
 *
 *   npm run bench:metrics      Env: BENCH_SIZES (default 1000,3000,10000), BENCH_SCRAPES (5)
 *
 * It prints, per N, the first scrape, the mean of the later ones (the deployments unchanged: what
 * most scrapes are), the text's size, and the heap each way keeps between two scrapes.
 *
 * Then one scrape served over HTTP by a process of its own, as Prometheus reads it: by the
 * operator's health server, which streams the text in pieces, against the same text sent whole
 * (how it was served before), with the peak RSS of the serving process above its RSS before the
 * scrape (Linux: `/proc/<pid>/status` after resetting its peak through `clear_refs`).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Gauge, Registry } from 'prom-client';
import type { PixtralDeployment } from '../operator/src/api/pixtral-deployment.ts';
import { deploymentMetricsText, registerDeploymentMetrics } from '../operator/src/deployment-metrics.ts';
import { startHealthServer } from '../operator/src/runtime/health.ts';
import { RuntimeMetrics } from '../operator/src/runtime/metrics.ts';
import { aReadyPixtralDeployment } from '../test/fixtures/pixtral-deployment.ts';

const SIZES = (process.env.BENCH_SIZES ?? '1000,3000,10000').split(',').map(Number);
const SCRAPES = Number(process.env.BENCH_SCRAPES ?? 5);

function readyDeployments(n: number): PixtralDeployment[] {
  return Array.from({ length: n }, (_, i) =>
    aReadyPixtralDeployment({ name: `pxd-${i}`, namespace: `ns-${i % 10}` }),
  );
}

interface Sample {
  metric: string;
  labels: Record<string, string>;
  value: number;
}

/** The series of the operator's text as samples (its label values here need no unescaping). */
function samples(text: string): Sample[] {
  const found: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = line.match(/^pixtral_deployment_(\w+)\{(.*)\} (\S+)$/);
    if (!match) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    found.push({ metric: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return found;
}

/** The same samples set through prom-client gauges at each scrape: the baseline. */
function registerThroughGauges(registry: Registry, crs: PixtralDeployment[]): void {
  const gauges = new Map<string, Gauge<string>>();
  // Parsed once, outside the timed scrapes: the baseline pays for prom-client's part only.
  const all = samples(deploymentMetricsText(crs, () => undefined));
  const collect = () => {
    for (const gauge of gauges.values()) gauge.reset();
    for (const s of all) gauges.get(s.metric)?.set(s.labels, s.value);
  };
  const labels: Record<string, string[]> = {};
  for (const s of samples(deploymentMetricsText(crs.slice(0, 1), () => undefined)))
    labels[s.metric] = Object.keys(s.labels);
  for (const [metric, labelNames] of Object.entries(labels)) {
    gauges.set(
      metric,
      new Gauge({
        name: `pixtral_deployment_${metric}`,
        help: metric,
        labelNames,
        registers: [registry],
        ...(metric === 'info' ? { collect } : {}),
      }),
    );
  }
}

// A full collection before each heap reading, without a command-line flag.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

interface Scrapes {
  firstMs: number;
  laterMs: number;
  bytes: number;
  /** Heap the scrapes left behind, in bytes. */
  keptBytes: number;
}

/** The text's length, in a frame of its own: an awaited value can outlive its statement in the caller's. */
async function scrapedBytes(scrape: () => Promise<string>): Promise<number> {
  return (await scrape()).length;
}

async function scrapes(scrape: () => Promise<string>): Promise<Scrapes> {
  const before = heapUsed();
  let began = performance.now();
  const bytes = await scrapedBytes(scrape);
  const firstMs = performance.now() - began;
  began = performance.now();
  for (let i = 0; i < SCRAPES; i++) await scrapedBytes(scrape);
  const laterMs = (performance.now() - began) / SCRAPES;
  return { firstMs, laterMs, bytes, keptBytes: heapUsed() - before };
}

/** The table against prom-client's gauges, in this process. */
async function againstPromClient(): Promise<void> {
  process.stdout.write(
    '| N | series | text | prom-client gauges: first / later scrape, heap kept | this operator: first / later scrape, heap kept | later, ratio |\n| --- | --- | --- | --- | --- | --- |\n',
  );
  for (const n of SIZES) {
    const crs = readyDeployments(n);
    const baseline = new Registry();
    registerThroughGauges(baseline, crs);
    const before = await scrapes(() => baseline.metrics());
    const ours = new RuntimeMetrics();
    registerDeploymentMetrics(ours, {
      pixtralDeployments: { list: () => crs },
      deployments: { get: () => undefined },
    });
    const after = await scrapes(() => ours.exposition());
    const series = samples(deploymentMetricsText(crs, () => undefined)).length;
    const ms = (x: number) => x.toFixed(0);
    const kept = (x: Scrapes) => `${(Math.max(0, x.keptBytes) / 1048576).toFixed(1)} MB`;
    process.stdout.write(
      `| ${n.toLocaleString('en')} | ${series.toLocaleString('en')} | ${(after.bytes / 1048576).toFixed(1)} MB | ${ms(before.firstMs)} / ${ms(before.laterMs)} ms, ${kept(before)} | ${ms(after.firstMs)} / ${ms(after.laterMs)} ms, ${kept(after)} | ${(after.laterMs / before.laterMs).toFixed(2)}x |\n`,
    );
  }
}

type Serving = 'whole' | 'pieces';

/**
 * The child process: N deployments' gauges on /metrics, through the operator's health server
 * (`pieces`) or sent as one text (`whole`, the baseline); prints its URL once idle.
 */
async function serve(how: Serving, n: number): Promise<void> {
  const crs = readyDeployments(n);
  const metrics = new RuntimeMetrics();
  registerDeploymentMetrics(metrics, {
    pixtralDeployments: { list: () => crs },
    deployments: { get: () => undefined },
  });
  let url: string;
  if (how === 'pieces') {
    url = (await startHealthServer({ metrics, unsynced: () => [], stopping: () => false }, '127.0.0.1', 0))
      .url;
  } else {
    const server = createServer((_req, res) => {
      void metrics.exposition().then((text) => res.writeHead(200).end(text));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  heapUsed();
  process.stdout.write(`${url}\n`);
}

interface Served {
  ms: number;
  bytes: number;
  /** Peak RSS of the serving process during the scrape, above its RSS before it. */
  peakAboveBytes: number;
}

const procStatus = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  1024 *
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function servedScrape(how: Serving, n: number): Promise<Served> {
  const child = spawn(process.execPath, [import.meta.filename, 'serve', how, String(n)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const pid = child.pid as number;
    // The child's first line is its URL, printed once it serves.
    const [url] = await once(createInterface({ input: child.stdout }), 'line');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = procStatus(pid, 'VmRSS');
    // Resets the process's peak RSS to its RSS now.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const began = performance.now();
    const response = await fetch(`${url}/metrics`);
    let bytes = 0;
    for await (const chunk of response.body ?? []) bytes += chunk.length;
    const ms = performance.now() - began;
    return { ms, bytes, peakAboveBytes: procStatus(pid, 'VmHWM') - before };
  } finally {
    child.kill();
  }
}

/** The table of one scrape served over HTTP, whole against in pieces, each in its own process. */
async function servedOverHttp(): Promise<void> {
  process.stdout.write(
    '\n| N | text | sent whole: scrape, peak RSS above idle | in pieces (the health server): scrape, peak RSS above idle | peak, ratio |\n| --- | --- | --- | --- | --- |\n',
  );
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
  for (const n of SIZES) {
    const whole = await servedScrape('whole', n);
    const pieces = await servedScrape('pieces', n);
    if (pieces.bytes !== whole.bytes)
      throw new Error(`N=${n}: ${pieces.bytes} bytes in pieces, ${whole.bytes} whole`);
    process.stdout.write(
      `| ${n.toLocaleString('en')} | ${mb(whole.bytes)} | ${whole.ms.toFixed(0)} ms, ${mb(whole.peakAboveBytes)} | ${pieces.ms.toFixed(0)} ms, ${mb(pieces.peakAboveBytes)} | ${(pieces.peakAboveBytes / whole.peakAboveBytes).toFixed(2)}x |\n`,
    );
  }
}

if (process.argv[2] === 'serve') {
  await serve(process.argv[3] as Serving, Number(process.argv[4]));
} else {
  await againstPromClient();
  await servedOverHttp();
}
