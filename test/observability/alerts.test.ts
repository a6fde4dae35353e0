/**
 * The chart's alert rules (charts/pixtral-operator/files/alerts.yaml): valid for Prometheus's own
 * `promtool check rules`, behaving as alerts.promtool.yaml says under `promtool test rules`, and
 * reading only metrics the project's processes (or the DCGM exporter) export.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { knownMetricNames, selectedMetrics } from './metric-names.ts';
import { prometheusBinary } from './prometheus-tools.ts';

const RULES = join(import.meta.dirname, '..', '..', 'charts', 'pixtral-operator', 'files', 'alerts.yaml');
const TESTS = join(import.meta.dirname, 'alerts.promtool.yaml');

function promtool(args: string[]): { code: number | null; output: string } {
  const run = spawnSync(prometheusBinary('promtool'), args, { encoding: 'utf8', cwd: import.meta.dirname });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
const rules = (): Rule[] =>
  (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const run = promtool(['check', 'rules', RULES]);
    expect(run.output).toContain('SUCCESS');
    expect(run.code, run.output).toBe(0);
  });

  it('pass their unit tests under promtool test rules', () => {
    const run = promtool(['test', 'rules', TESTS]);
    expect(run.code, run.output).toBe(0);
  });

  it('alert on what the issue lists: not Ready, weights, 5xx, queueing, 429s, GPU memory', () => {
    expect(rules().flatMap((r) => (r.alert ? [r.alert] : []))).toEqual([
      'PixtralDeploymentNotReady',
      'PixtralWeightsFailed',
      'PixtralHighErrorRate',
      'PixtralRequestsQueueing',
      'PixtralRequestsThrottled',
      'PixtralGPUMemoryNearlyFull',
    ]);
  });

  it('read only metrics that exist (or that the rules record themselves)', async () => {
    const known = new Set(Object.values(await knownMetricNames()).flat());
    for (const r of rules()) if (r.record) known.add(r.record);
    const unknown = rules().flatMap((r) =>
      selectedMetrics(r.expr)
        .filter((name) => !known.has(name))
        .map((name) => `${r.alert ?? r.record}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });
});
