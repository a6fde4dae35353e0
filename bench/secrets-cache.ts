/**
 * Benchmark: what 5,000 unrelated 100 KB Secrets in a cluster (Helm release Secrets, say) cost the
 * operator. Baseline: the operator caching every Secret, as it did before; now: Secrets cached only
 * with the operator's label, and a user's key Secret by name. Each variant runs as a fresh child
 * process against the same real API server, alternating, BENCH_ROUNDS times; the table shows the
 * medians of start-up (process start until every cache has loaded) and RSS, and ratios.
 *
 *   npm run bench:secrets          (BENCH_SECRETS=5000, BENCH_SECRET_KB=100, BENCH_ROUNDS=3)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { freshNamespace, startControlPlane } from '../test/harness/index.ts';
import { inPool } from '../test/runtime/cluster.ts';

const SECRETS = Number(process.env.BENCH_SECRETS ?? 5000);
const SECRET_KB = Number(process.env.BENCH_SECRET_KB ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROOT = join(import.meta.dirname, '..');

interface Sample {
  syncedMs: number;
  rssAtSync: number;
  rssSettled: number;
}

const say = (text: string) => process.stderr.write(`[bench:secrets] ${text}\n`);
const cp = await startControlPlane({
  verbose: false,
  crds: [join(ROOT, 'crds/inference.pixtral.dev_pixtraldeployments.yaml')],
});
try {
  const kc = cp.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const namespaces = await Promise.all(Array.from({ length: 10 }, () => freshNamespace(kc, 'helm')));
  const payload = randomBytes((SECRET_KB * 1024 * 3) / 4).toString('base64');
  let made = 0;
  const started = Date.now();
  await inPool(
    Array.from({ length: SECRETS }, (_, i) => i),
    16,
    async (i) => {
      await core.createNamespacedSecret({
        namespace: namespaces[i % namespaces.length]!,
        body: {
          metadata: { name: `sh.helm.release.v1.app-${i}.v1`, labels: { owner: 'helm' } },
          type: 'helm.sh/release.v1',
          stringData: { release: payload },
        },
      });
      if (++made % 500 === 0) say(`created ${made}/${SECRETS} Secrets of ${SECRET_KB} KB`);
    },
  );
  say(`created ${SECRETS} Secrets in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const run = (cacheAll: boolean) =>
    new Promise<Sample>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'bench/operator-child.ts')], {
        env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, BENCH_CACHE_ALL_SECRETS: cacheAll ? '1' : '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.on('close', (code) => {
        const line = out.trim().split('\n').at(-1);
        if (code !== 0 || !line) reject(new Error(`operator child exited with ${code}`));
        else resolve(JSON.parse(line) as Sample);
      });
    });

  const samples: Record<'before' | 'after', Sample[]> = { before: [], after: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const variant of ['before', 'after'] as const) {
      const sample = await run(variant === 'before');
      samples[variant].push(sample);
      say(
        `round ${round} ${variant}: synced after ${Math.round(sample.syncedMs)} ms, RSS ${mb(sample.rssSettled)} MB`,
      );
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const row = (variant: 'before' | 'after') => ({
    startup: median(samples[variant].map((s) => s.syncedMs)),
    rssAtSync: median(samples[variant].map((s) => s.rssAtSync)),
    rss: median(samples[variant].map((s) => s.rssSettled)),
  });
  const before = row('before');
  const after = row('after');
  const table = [
    `Operator with ${SECRETS} unrelated ${SECRET_KB} KB Secrets in the cluster (median of ${ROUNDS} runs each)`,
    '| operator | start-up until caches synced | RSS at sync | RSS 3 s later |',
    '| --- | --- | --- | --- |',
    `| before: caches every Secret | ${(before.startup / 1000).toFixed(2)} s | ${mb(before.rssAtSync)} MB | ${mb(before.rss)} MB |`,
    `| now: label-selected and by-name Secret caches | ${(after.startup / 1000).toFixed(2)} s | ${mb(after.rssAtSync)} MB | ${mb(after.rss)} MB |`,
    `| ratio now/before | ${(after.startup / before.startup).toFixed(2)} | ${(after.rssAtSync / before.rssAtSync).toFixed(2)} | ${(after.rss / before.rss).toFixed(2)} |`,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (process.env.BENCH_OUT) await writeFile(process.env.BENCH_OUT, `${table}\n`);
} finally {
  await cp.stop();
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}
