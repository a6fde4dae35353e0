/**
 * The chart's Grafana dashboard: generated from scripts/dashboard/dashboard.ts and checked in
 * fresh, and every panel's query is valid PromQL selecting only metrics the operator, the sidecar,
 * vLLM (as the stub exports its names) or the DCGM exporter really export.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, panelQueries } from '../../scripts/dashboard/dashboard.ts';
import { DASHBOARD_FILE, renderDashboard } from '../../scripts/gen-dashboard.ts';
import { knownMetricNames, selectedMetrics, withoutGrafanaVariables } from './metric-names.ts';

let known: Awaited<ReturnType<typeof knownMetricNames>>;
beforeAll(async () => {
  known = await knownMetricNames();
});

describe('the Grafana dashboard', () => {
  it('is checked in as generated (node scripts/gen-dashboard.ts)', () => {
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(renderDashboard());
  });

  it('queries only metrics that exist, in valid PromQL', () => {
    const all = new Set(Object.values(known).flat());
    const queries = panelQueries(buildDashboard());
    expect(queries.length).toBeGreaterThan(10);
    const unknown = queries.flatMap(({ panel, expr }) =>
      selectedMetrics(withoutGrafanaVariables(expr))
        .filter((name) => !all.has(name))
        .map((name) => `${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('covers each source: operator, sidecar, vLLM and the GPUs', () => {
    const used = new Set(
      panelQueries(buildDashboard()).flatMap((q) => selectedMetrics(withoutGrafanaVariables(q.expr))),
    );
    for (const [source, names] of Object.entries(known))
      expect(
        names.some((n) => used.has(n)),
        `no panel reads ${source} metrics`,
      ).toBe(true);
    for (const gpu of ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_POWER_USAGE'])
      expect(used).toContain(gpu);
  });

  it('gives every panel a query, a title and the datasource variable', () => {
    for (const panel of buildDashboard().panels ?? []) {
      if (panel.type === 'row') continue;
      expect(panel.title).toBeTruthy();
      expect('targets' in panel && panel.targets?.length).toBeGreaterThan(0);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax.
      expect('datasource' in panel && panel.datasource?.uid).toBe('${datasource}');
    }
  });
});
