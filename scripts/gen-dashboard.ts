/**
 * Writes the chart's Grafana dashboard (charts/pixtral-operator/files/dashboard.json) from
 * scripts/dashboard/dashboard.ts.
 *
 *   node scripts/gen-dashboard.ts           rewrite the file
 *   node scripts/gen-dashboard.ts --check   exit 1 when the checked-in file is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDashboard } from './dashboard/dashboard.ts';

/** The dashboard file the chart ships. */
export const DASHBOARD_FILE = join(
  import.meta.dirname,
  '..',
  'charts',
  'pixtral-operator',
  'files',
  'dashboard.json',
);

/** The file's expected text. */
export function renderDashboard(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const next = renderDashboard();
  let current = '';
  try {
    current = readFileSync(DASHBOARD_FILE, 'utf8');
  } catch {}
  if (values.check) {
    if (next !== current) {
      process.stderr.write(`${DASHBOARD_FILE} is stale: run node scripts/gen-dashboard.ts\n`);
      process.exit(1);
    }
    process.stdout.write('dashboard.json is up to date\n');
  } else if (next !== current) {
    writeFileSync(DASHBOARD_FILE, next);
    process.stdout.write(`wrote ${DASHBOARD_FILE}\n`);
  } else {
    process.stdout.write('dashboard.json already up to date\n');
  }
}
