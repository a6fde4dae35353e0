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

/** Which deployment a sample is about: its first two labels. */
export interface DeploymentId {
  namespace: string;
  name: string;
}

/** One sample: metric name (without the `pixtral_deployment_` prefix), labels, value. */
export interface DeploymentSample {
  metric:
    | 'info'
    | 'status_phase'
    | 'status_condition'
    | 'replicas_ready'
    | 'replicas_desired'
    | 'weights_failed_attempts';
  /** The same object for every sample of one deployment. */
  id: DeploymentId;
  /** The labels after the id's. */
  labels: Record<string, string>;
  value: number;
}

/**
 * The samples for `crs`, pure. `workload` returns the serving Deployment of a CR (its
 * `spec.replicas` is the desired count, which KEDA may own); before it exists, desired is minSize.
 */
export function deploymentSamples(
  crs: readonly PixtralDeployment[],
  workload: (cr: PixtralDeployment) => V1Deployment | undefined,
): DeploymentSample[] {
  const samples: DeploymentSample[] = [];
  for (const cr of crs) {
    const id = { namespace: cr.metadata.namespace ?? '', name: cr.metadata.name ?? '' };
    const status = cr.status ?? {};
    samples.push({
      metric: 'info',
      id,
      labels: { uuid: status.uuid ?? '', model: cr.spec.model, node_type: cr.spec.nodeType },
      value: 1,
    });
    for (const phase of PHASES)
      samples.push({ metric: 'status_phase', id, labels: { phase }, value: status.phase === phase ? 1 : 0 });
    for (const condition of status.conditions ?? [])
      for (const value of CONDITION_STATUSES)
        samples.push({
          metric: 'status_condition',
          id,
          labels: { type: condition.type, status: value },
          value: condition.status === value ? 1 : 0,
        });
    samples.push({ metric: 'replicas_ready', id, labels: {}, value: status.readyReplicas ?? 0 });
    samples.push({
      metric: 'replicas_desired',
      id,
      labels: {},
      value: workload(cr)?.spec?.replicas ?? cr.spec.minSize,
    });
    samples.push({ metric: 'weights_failed_attempts', id, labels: {}, value: status.weights?.attempts ?? 0 });
  }
  return samples;
}

/** Help text of each gauge; the keys are the metric names without the prefix. */
const HELP: Record<DeploymentSample['metric'], string> = {
  info: 'One series per PixtralDeployment, value 1.',
  status_phase: 'status.phase: 1 for the current phase, 0 for the others.',
  status_condition: 'status.conditions: 1 for the status each condition type has, 0 for the other two.',
  replicas_ready: 'status.readyReplicas: serving pods that pass readiness.',
  replicas_desired:
    'Replicas the serving Deployment asks for (set by KEDA when autoscaled), else spec.minSize.',
  weights_failed_attempts:
    'status.weights.attempts: failed weight provisioning attempts since the last success.',
};

/** The caches the gauges read. */
export interface DeploymentMetricSources {
  pixtralDeployments: { list(): PixtralDeployment[] };
  deployments: { get(namespace: string, name: string): V1Deployment | undefined };
}

/** A Prometheus label value, escaped as the text format wants it. */
function labelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : value;
}

/** The metric names in the order they are printed. */
const METRICS = Object.keys(HELP) as DeploymentSample['metric'][];

/** The gauges of `crs` in Prometheus' text format, pure (`workload` as for `deploymentSamples`). */
export function deploymentMetricsText(
  crs: readonly PixtralDeployment[],
  workload: (cr: PixtralDeployment) => V1Deployment | undefined,
): string {
  const lines = new Map<DeploymentSample['metric'], string[]>(
    METRICS.map((metric) => {
      const name = `pixtral_deployment_${metric}`;
      return [metric, [`# HELP ${name} ${HELP[metric]}`, `# TYPE ${name} gauge`]];
    }),
  );
  // Printed once per deployment: the id labels every one of its ~30 series starts with.
  let id: DeploymentId | undefined;
  let idText = '';
  for (const sample of deploymentSamples(crs, workload)) {
    if (sample.id !== id) {
      id = sample.id;
      idText = `{namespace="${labelValue(id.namespace)}",name="${labelValue(id.name)}"`;
    }
    let labels = '';
    for (const name in sample.labels) labels += `,${name}="${labelValue(sample.labels[name] ?? '')}"`;
    lines.get(sample.metric)?.push(`pixtral_deployment_${sample.metric}${idText}${labels}} ${sample.value}`);
  }
  return `${[...lines.values()].map((block) => block.join('\n')).join('\n')}\n`;
}

/** Where the gauges' text goes: printed at each scrape after the registry's metrics. */
export interface MetricsText {
  addText(render: () => string): void;
}

/**
 * Prints the `pixtral_deployment_*` gauges at each scrape, from `sources`.
 *
 * Each deployment has about 30 series (six phases, seven conditions with three statuses each),
 * so they bypass prom-client: set through its gauges, every scrape hashed and formatted each
 * label set again (0.7 s of the event loop per scrape at 3,000 deployments), and even finished
 * series handed to its Registry cost 1.2 s per scrape at 10,000 in its formatting. Printed here
 * straight from the caches, nothing is kept between scrapes: series kept per deployment cost
 * ~10 KB each, more than the caches hold of it (`bench/deployment-metrics.ts` measures all three).
 */
export function registerDeploymentMetrics(metrics: MetricsText, sources: DeploymentMetricSources): void {
  metrics.addText(() =>
    deploymentMetricsText(sources.pixtralDeployments.list(), (cr) =>
      sources.deployments.get(cr.metadata.namespace ?? '', workloadName(cr)),
    ),
  );
}
