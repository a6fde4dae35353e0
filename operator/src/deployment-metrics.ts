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
import type { Registry } from 'prom-client';
import { PHASES, type PixtralDeployment } from './api/pixtral-deployment.ts';
import { workloadName } from './builders/names.ts';

/** Status values a condition can take; each gets a series, 1 for the current one (kube-state-metrics style). */
const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** One sample: metric name (without the `pixtral_deployment_` prefix), labels, value. */
export interface DeploymentSample {
  metric:
    | 'info'
    | 'status_phase'
    | 'status_condition'
    | 'replicas_ready'
    | 'replicas_desired'
    | 'weights_failed_attempts';
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
      labels: { ...id, uuid: status.uuid ?? '', model: cr.spec.model, node_type: cr.spec.nodeType },
      value: 1,
    });
    for (const phase of PHASES)
      samples.push({
        metric: 'status_phase',
        labels: { ...id, phase },
        value: status.phase === phase ? 1 : 0,
      });
    for (const condition of status.conditions ?? [])
      for (const value of CONDITION_STATUSES)
        samples.push({
          metric: 'status_condition',
          labels: { ...id, type: condition.type, status: value },
          value: condition.status === value ? 1 : 0,
        });
    samples.push({ metric: 'replicas_ready', labels: id, value: status.readyReplicas ?? 0 });
    samples.push({
      metric: 'replicas_desired',
      labels: id,
      value: workload(cr)?.spec?.replicas ?? cr.spec.minSize,
    });
    samples.push({ metric: 'weights_failed_attempts', labels: id, value: status.weights?.attempts ?? 0 });
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

/** One series as prom-client's Registry prints it: `metricName` is the whole `name{labels}` text. */
interface Series {
  metricName: string;
  value: number;
}

/** A deployment's series by metric, for one version of it and of its serving Deployment's replicas. */
interface Rendered {
  replicas: number | undefined;
  series: Map<DeploymentSample['metric'], Series[]>;
}

/** A Prometheus label value, escaped as the text format wants it. */
function labelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/**
 * Registers the `pixtral_deployment_*` gauges on `registry`, filled from `sources` at each scrape.
 *
 * Each deployment has about 30 series (six phases, seven conditions with three statuses each).
 * Set through prom-client's gauges, every scrape hashed and formatted each label set again: about
 * 0.7 s of the event loop per scrape at 3,000 deployments. Here a deployment's series are printed
 * once per version of its object (the informer replaces the object on every change) and kept in
 * a WeakMap, and the Registry is handed each series' finished text as its `metricName` with no
 * labels, so a scrape only collects them (`bench/deployment-metrics.ts`).
 */
export function registerDeploymentMetrics(registry: Registry, sources: DeploymentMetricSources): void {
  const rendered = new WeakMap<PixtralDeployment, Rendered>();
  const render = (cr: PixtralDeployment, workload: V1Deployment | undefined): Rendered => {
    const series = new Map<DeploymentSample['metric'], Series[]>();
    for (const sample of deploymentSamples([cr], () => workload)) {
      const labels = Object.entries(sample.labels)
        .map(([name, value]) => `${name}="${labelValue(value)}"`)
        .join(',');
      const list = series.get(sample.metric) ?? [];
      list.push({ metricName: `pixtral_deployment_${sample.metric}{${labels}}`, value: sample.value });
      series.set(sample.metric, list);
    }
    return { replicas: workload?.spec?.replicas, series };
  };
  let scrape = new Map<DeploymentSample['metric'], Series[]>();
  const collect = (): void => {
    scrape = new Map();
    for (const cr of sources.pixtralDeployments.list()) {
      const workload = sources.deployments.get(cr.metadata.namespace ?? '', workloadName(cr));
      let entry = rendered.get(cr);
      if (entry === undefined || entry.replicas !== workload?.spec?.replicas) {
        entry = render(cr, workload);
        rendered.set(cr, entry);
      }
      for (const [metric, list] of entry.series) {
        const all = scrape.get(metric);
        if (all === undefined) scrape.set(metric, [...list]);
        else for (const one of list) all.push(one);
      }
    }
  };
  const metrics = Object.keys(HELP) as DeploymentSample['metric'][];
  for (const metric of metrics) {
    const name = `pixtral_deployment_${metric}`;
    // What prom-client's Registry reads of a metric: name, help, type and values (and reset).
    registry.registerMetric({
      name,
      help: HELP[metric],
      // One collect per scrape: the Registry reads the metrics in turn, and the first does the work.
      get: async () => {
        if (metric === metrics[0]) collect();
        return {
          name,
          help: HELP[metric],
          type: 'gauge',
          values: scrape.get(metric) ?? [],
          aggregator: 'max',
        };
      },
      reset: () => {},
    } as never);
  }
}
