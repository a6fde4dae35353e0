/**
 * Per-PixtralDeployment gauges (phase, conditions, replicas, weights failures) for dashboards and
 * alerts. They are computed at scrape time from the informer caches the controller already
 * keeps, so they cost no API request and can never drift from what the operator sees. Every
 * replica exports them (followers keep warm caches too): queries take `max by (namespace, name)`.
 *
 * Label names follow kube-state-metrics (`namespace`, `name`, `type`, `status`), so the scrape
 * must keep them: the chart's ServiceMonitor sets `honorLabels: true`.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { PHASES, type PixtralDeployment } from './api/pixtral-deployment.ts';
import { workloadName } from './builders/names.ts';

/** Status values a condition can take; each gets a series, 1 for the current one (kube-state-metrics style). */
const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** The gauges, by name without the `pixtral_deployment_` prefix, with their help, in the order printed. */
const HELP = {
  info: 'One series per PixtralDeployment, value 1.',
  status_phase: 'status.phase: 1 for the current phase, 0 for the others.',
  status_condition: 'status.conditions: 1 for the status each condition type has, 0 for the other two.',
  replicas_ready: 'status.readyReplicas: serving pods that pass readiness.',
  replicas_desired:
    'Replicas the serving Deployment asks for (set by KEDA when autoscaled), else spec.minSize.',
  weights_failed_attempts:
    'status.weights.attempts: failed weight provisioning attempts since the last success.',
} as const;

type Metric = keyof typeof HELP;
const METRICS = Object.keys(HELP) as Metric[];

/** The caches the gauges read. */
export interface DeploymentMetricSources {
  pixtralDeployments: { list(): PixtralDeployment[] };
  deployments: { get(namespace: string, name: string): V1Deployment | undefined };
}

/** A Prometheus label value, escaped as the text format wants it. */
function labelValue(value: string): string {
  if (!value.includes('\\') && !value.includes('"') && !value.includes('\n')) return value;
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Lines per piece of the text: about 50 KB, so a scrape holds a piece at a time, not the whole. */
const LINES_PER_PIECE = 500;

/** A CR's series of one gauge, pushed onto `out` as lines; `id` is `{namespace="…",name="…"`. */
type Series = (
  out: string[],
  cr: PixtralDeployment,
  id: string,
  workload: (cr: PixtralDeployment) => V1Deployment | undefined,
) => void;

const SERIES: Record<Metric, Series> = {
  info: (out, cr, id) => {
    const uuid = labelValue(cr.status?.uuid ?? '');
    out.push(
      `pixtral_deployment_info${id},uuid="${uuid}",model="${labelValue(cr.spec.model)}",node_type="${labelValue(cr.spec.nodeType)}"} 1`,
    );
  },
  status_phase: (out, cr, id) => {
    for (const phase of PHASES)
      out.push(
        `pixtral_deployment_status_phase${id},phase="${phase}"} ${cr.status?.phase === phase ? 1 : 0}`,
      );
  },
  status_condition: (out, cr, id) => {
    for (const condition of cr.status?.conditions ?? []) {
      const type = labelValue(condition.type);
      for (const value of CONDITION_STATUSES)
        out.push(
          `pixtral_deployment_status_condition${id},type="${type}",status="${value}"} ${condition.status === value ? 1 : 0}`,
        );
    }
  },
  replicas_ready: (out, cr, id) => {
    out.push(`pixtral_deployment_replicas_ready${id}} ${cr.status?.readyReplicas ?? 0}`);
  },
  replicas_desired: (out, cr, id, workload) => {
    out.push(`pixtral_deployment_replicas_desired${id}} ${workload(cr)?.spec?.replicas ?? cr.spec.minSize}`);
  },
  weights_failed_attempts: (out, cr, id) => {
    out.push(`pixtral_deployment_weights_failed_attempts${id}} ${cr.status?.weights?.attempts ?? 0}`);
  },
};

/**
 * The gauges of `crs` in Prometheus' text format, pure, in pieces of a few hundred lines, each
 * ending in a newline. `workload` returns the serving Deployment of a CR (its `spec.replicas` is
 * the desired count, which KEDA may own); before it exists, desired is minSize.
 *
 * In pieces because the whole is large: at 10,000 deployments a scrape is 310,000 series, 29 MB
 * of text, which held at once (as lines, joined, then as the response's bytes) was the largest
 * transient of the process. Printed line by line with template strings, not through label
 * objects: this runs in V8's lite mode, which has no optimizing compiler to remove the
 * allocations (`bench/deployment-metrics.ts`).
 */
export function* deploymentMetricsPieces(
  crs: readonly PixtralDeployment[],
  workload: (cr: PixtralDeployment) => V1Deployment | undefined,
): Generator<string> {
  const ids = crs.map(
    (cr) =>
      `{namespace="${labelValue(cr.metadata.namespace ?? '')}",name="${labelValue(cr.metadata.name ?? '')}"`,
  );
  for (const metric of METRICS) {
    const name = `pixtral_deployment_${metric}`;
    let lines = [`# HELP ${name} ${HELP[metric]}`, `# TYPE ${name} gauge`];
    for (const [i, cr] of crs.entries()) {
      SERIES[metric](lines, cr, ids[i] as string, workload);
      if (lines.length >= LINES_PER_PIECE) {
        yield `${lines.join('\n')}\n`;
        lines = [];
      }
    }
    if (lines.length) yield `${lines.join('\n')}\n`;
  }
}

/** The whole text of `deploymentMetricsPieces`, for tests and benchmarks. */
export function deploymentMetricsText(
  crs: readonly PixtralDeployment[],
  workload: (cr: PixtralDeployment) => V1Deployment | undefined,
): string {
  return [...deploymentMetricsPieces(crs, workload)].join('');
}

/** Where the gauges' text goes: printed at each scrape after the registry's metrics. */
export interface MetricsText {
  addText(render: () => Iterable<string>): void;
}

/**
 * Prints the `pixtral_deployment_*` gauges at each scrape, from `sources`.
 *
 * Each deployment has about 30 series (six phases, seven conditions with three statuses each),
 * so they bypass prom-client: set through its gauges, every scrape hashed and formatted each
 * label set again (0.7 s of the event loop per scrape at 3,000 deployments), and even finished
 * series handed to its Registry cost 1.2 s per scrape at 10,000 in its formatting. Printed here
 * straight from the caches, nothing is kept between scrapes: series kept per deployment cost
 * ~10 KB each, more than the caches hold of it (`bench/deployment-metrics.ts`).
 */
export function registerDeploymentMetrics(metrics: MetricsText, sources: DeploymentMetricSources): void {
  metrics.addText(() =>
    deploymentMetricsPieces(sources.pixtralDeployments.list(), (cr) =>
      sources.deployments.get(cr.metadata.namespace ?? '', workloadName(cr)),
    ),
  );
}
