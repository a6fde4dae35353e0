/**
 * Which metric names exist: those the operator, the sidecar and the vLLM stub really export, read
 * from their own registries and /metrics, plus the DCGM exporter's. Dashboard and alert tests
 * check every query against these, so a renamed metric breaks a test instead of a panel.
 */
import { parser } from '@prometheus-io/lezer-promql';
import { registerDeploymentMetrics } from '../../operator/src/deployment-metrics.ts';
import { RuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import { startMain } from '../sidecar/main-process.ts';
import { startUpstreamStub } from '../upstream-stub/stub.ts';
import { DCGM_METRIC_NAMES } from './dcgm.ts';

/** Series names a text exposition declares (`# TYPE` lines); histograms and summaries expand to their series. */
export function exposedNames(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, type] = m as unknown as [string, string, string];
    if (type === 'histogram') names.push(`${name}_bucket`, `${name}_sum`, `${name}_count`);
    else if (type === 'summary') names.push(name, `${name}_sum`, `${name}_count`);
    else names.push(name);
  }
  return names;
}

/** Every metric name the project's processes export, by source. */
export async function knownMetricNames(): Promise<
  Record<'operator' | 'sidecar' | 'vllm' | 'dcgm', string[]>
> {
  const runtime = new RuntimeMetrics();
  registerDeploymentMetrics(runtime, {
    pixtralDeployments: { list: () => [] },
    deployments: { get: () => undefined },
  });
  const stub = await startUpstreamStub();
  // The sidecar's names come from the real process: /metrics is its interface, however it is built inside.
  const sidecar = await startMain({ UPSTREAM_URL: stub.url, DISABLE_AUTH: 'true' });
  try {
    return {
      operator: exposedNames(await runtime.exposition()),
      sidecar: exposedNames(await (await fetch(`${sidecar.url}/metrics`)).text()),
      vllm: exposedNames(await (await fetch(`${stub.url}/metrics`)).text()),
      dcgm: [...DCGM_METRIC_NAMES],
    };
  } finally {
    sidecar.child.kill('SIGKILL');
    await stub.close();
  }
}

/** Grafana's variables replaced by plain values so the expression is PromQL. */
export function withoutGrafanaVariables(expr: string, values: Record<string, string> = {}): string {
  return expr
    .replaceAll('$__rate_interval', values.__rate_interval ?? '5m')
    .replace(/\$(\w+)/g, (_, name: string) => values[name] ?? 'x');
}

/** The metric names a PromQL expression selects; throws on a syntax error, naming where. */
export function selectedMetrics(expr: string): string[] {
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`PromQL syntax error at ${node.from}: ${expr}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector')
        names.push(expr.slice(node.from, node.to));
    },
  });
  return names;
}
