/**
 * Keeps the Helm chart's CRDs identical to the generated ones in crds/ (Helm installs only what
 * sits in the chart's own crds/ folder, so the chart carries a copy).
 *
 *   node scripts/sync-chart-crds.ts           copy crds/*.yaml into charts/pixtral-operator/crds/
 *   node scripts/sync-chart-crds.ts --check   exit 1 and name the files that differ
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = join(import.meta.dirname, '..');
/** Where the generator writes the CRDs. */
export const SOURCE_DIR = join(ROOT, 'crds');
/** Where Helm looks for them. */
export const CHART_CRDS_DIR = join(ROOT, 'charts', 'pixtral-operator', 'crds');

function yamlFiles(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
    : [];
}

/** Differences between crds/ and the chart's copy, one sentence each; empty when in sync. */
export function chartCrdDrift(source = SOURCE_DIR, target = CHART_CRDS_DIR): string[] {
  const wanted = yamlFiles(source);
  const present = new Set(yamlFiles(target));
  const drift: string[] = [];
  for (const file of wanted) {
    if (!present.has(file)) drift.push(`${file} is missing from the chart`);
    else if (!readFileSync(join(source, file)).equals(readFileSync(join(target, file))))
      drift.push(`${file} differs from crds/${file}`);
    present.delete(file);
  }
  for (const file of present) drift.push(`${file} is in the chart but not in crds/`);
  return drift;
}

/** Makes the chart's crds/ an exact copy of crds/*.yaml; returns the files written or removed. */
export function syncChartCrds(source = SOURCE_DIR, target = CHART_CRDS_DIR): string[] {
  mkdirSync(target, { recursive: true });
  const changed: string[] = [];
  const wanted = new Set(yamlFiles(source));
  for (const file of yamlFiles(target)) {
    if (!wanted.has(file)) {
      rmSync(join(target, file));
      changed.push(`removed ${file}`);
    }
  }
  for (const file of wanted) {
    const from = join(source, file);
    const to = join(target, file);
    if (existsSync(to) && readFileSync(from).equals(readFileSync(to))) continue;
    copyFileSync(from, to);
    changed.push(`copied ${file}`);
  }
  return changed;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  if (values.check) {
    const drift = chartCrdDrift();
    if (drift.length) {
      process.stderr.write(
        `The chart's CRDs are stale; run node scripts/sync-chart-crds.ts:\n  ${drift.join('\n  ')}\n`,
      );
      process.exit(1);
    }
    process.stdout.write('chart CRDs match crds/\n');
  } else {
    const changed = syncChartCrds();
    process.stdout.write(changed.length ? `${changed.join('\n')}\n` : 'chart CRDs already match crds/\n');
  }
}
