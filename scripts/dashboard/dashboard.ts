/**
 * The Grafana dashboard of PixtralDeployments, built with Grafana's foundation SDK so panels are
 * typed objects rather than hand-edited JSON. `node scripts/gen-dashboard.ts` writes it to the
 * chart (files/dashboard.json), which ships it in a ConfigMap for Grafana's dashboard sidecar.
 *
 * Series it reads, and the labels it expects on them:
 * - the operator's `pixtral_deployment_*` gauges (their own `namespace` and `name` labels) and
 *   controller-runtime style `controller_runtime_*` / `workqueue_*` series;
 * - the sidecars' `sidecar_*`, vLLM's `vllm:*` and NVIDIA DCGM exporter's `DCGM_FI_*` series,
 *   labelled with the serving pod's `namespace` and `pod` (as KEDA's default query expects too);
 *   serving pods are named `<name>-pixtral-<replicaset>-<pod>`.
 */
import {
  BigValueTextMode,
  LegendDisplayMode,
  LegendPlacement,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** The dashboard's uid: stable, so Grafana updates the imported dashboard in place. */
export const DASHBOARD_UID = 'pixtral-deployments';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, resolved by Grafana.
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** Matchers of the operator's per-resource gauges. */
const RESOURCE = 'namespace=~"$namespace", name=~"$name"';
/** Matchers of series scraped from the serving pods (sidecar, vLLM, DCGM exporter). */
const SERVING = 'namespace=~"$namespace", pod=~"($name)-pixtral-[a-z0-9]+-[a-z0-9]+"';
/** Serving-pod series of the chosen API keys (the `key` label is the key's name in its Secret). */
const KEYED = `${SERVING}, key=~"$key"`;
/** Chat requests only: probes and /v1/models would drown the traffic a user sends. */
const CHAT = `${SERVING}, route="chat_completions"`;

/** One query of a panel: PromQL and its legend. */
interface Query {
  expr: string;
  legend: string;
}

const query = (expr: string, legend: string): Query => ({ expr, legend });

const target = (q: Query, index: number) =>
  new DataqueryBuilder()
    .expr(q.expr)
    .legendFormat(q.legend)
    .refId(String.fromCharCode(65 + index));

const legend = () =>
  new VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(LegendDisplayMode.List)
    .placement(LegendPlacement.Bottom);

function timeseries(title: string, description: string, unit: string, queries: Query[], span = 8) {
  const panel = new TimeseriesPanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .min(0)
    .span(span)
    .height(8)
    .legend(legend());
  queries.forEach((q, i) => {
    panel.withTarget(target(q, i));
  });
  return panel;
}

/** p50 and p99 of a histogram, summed over the serving pods. */
function quantiles(bucket: string, matchers: string): Query[] {
  return [0.5, 0.99].map((q) =>
    query(
      `histogram_quantile(${q}, sum by (le) (rate(${bucket}{${matchers}}[$__rate_interval])))`,
      `p${Math.round(q * 100)}`,
    ),
  );
}

/** The dashboard, as Grafana's JSON model. */
export function buildDashboard(): Dashboard {
  const phase = new StatPanelBuilder()
    .title('Phase')
    .description('status.phase of each PixtralDeployment.')
    .datasource(DATASOURCE)
    .textMode(BigValueTextMode.Name)
    .span(8)
    .height(6)
    .withTarget(
      target(
        query(
          `max by (name, phase) (pixtral_deployment_status_phase{${RESOURCE}}) == 1`,
          '{{name}}: {{phase}}',
        ),
        0,
      ),
    );

  return new DashboardBuilder('Pixtral deployments')
    .uid(DASHBOARD_UID)
    .description('Traffic, latency, refusals, replicas and GPUs of PixtralDeployments (pixtral-operator).')
    .tags(['pixtral', 'inference'])
    .editable()
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('namespace')
        .label('Namespace')
        .datasource(DATASOURCE)
        .query('label_values(pixtral_deployment_info, namespace)')
        .definition('label_values(pixtral_deployment_info, namespace)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withVariable(
      new QueryVariableBuilder('name')
        .label('PixtralDeployment')
        .datasource(DATASOURCE)
        .query('label_values(pixtral_deployment_info{namespace=~"$namespace"}, name)')
        .definition('label_values(pixtral_deployment_info{namespace=~"$namespace"}, name)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withVariable(
      new QueryVariableBuilder('key')
        .label('API key')
        .description('The name of an API key in the deployment’s keys Secret.')
        .datasource(DATASOURCE)
        .query(`label_values(sidecar_key_requests_total{${SERVING}}, key)`)
        .definition(`label_values(sidecar_key_requests_total{${SERVING}}, key)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withRow(new RowBuilder('Overview'))
    .withPanel(phase)
    .withPanel(
      timeseries(
        'Replicas: ready vs desired',
        'Ready serving pods against what the Deployment (or KEDA) asks for.',
        'short',
        [
          query(`max by (name) (pixtral_deployment_replicas_ready{${RESOURCE}})`, '{{name}} ready'),
          query(`max by (name) (pixtral_deployment_replicas_desired{${RESOURCE}})`, '{{name}} desired'),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Failed weight provisioning attempts',
        'status.weights.attempts: failures since the last verified download; the operator retries with backoff.',
        'short',
        [query(`max by (name) (pixtral_deployment_weights_failed_attempts{${RESOURCE}})`, '{{name}}')],
      ),
    )
    .withRow(new RowBuilder('Traffic'))
    .withPanel(
      timeseries('Requests/s by status', 'Chat requests answered by the sidecars, by HTTP status.', 'reqps', [
        query(`sum by (status) (rate(sidecar_requests_total{${CHAT}}[$__rate_interval]))`, '{{status}}'),
      ]),
    )
    .withPanel(
      timeseries(
        'Tokens/s',
        'Prompt (prefill) and completion (generated) tokens processed by vLLM.',
        'short',
        [
          query(`sum(rate(vllm:prompt_tokens_total{${SERVING}}[$__rate_interval]))`, 'prompt'),
          query(`sum(rate(vllm:generation_tokens_total{${SERVING}}[$__rate_interval]))`, 'completion'),
        ],
      ),
    )
    .withPanel(
      timeseries('429s/s', 'Requests refused because the queue was full or the wait timed out.', 'reqps', [
        query(`sum by (name) (rate(sidecar_requests_total{${CHAT}, status="429"}[$__rate_interval]))`, '429'),
      ]),
    )
    .withRow(new RowBuilder('Latency'))
    .withPanel(
      timeseries(
        'Time to first token',
        'From vLLM receiving a request to its first generated token.',
        's',
        quantiles('vllm:time_to_first_token_seconds_bucket', SERVING),
        12,
      ),
    )
    .withPanel(
      timeseries(
        'End-to-end latency',
        'What clients see: from the sidecar receiving a chat request to the end of its answer, queueing included.',
        's',
        quantiles('sidecar_request_duration_seconds_bucket', CHAT),
        12,
      ),
    )
    .withRow(new RowBuilder('Queue and refusals'))
    .withPanel(
      timeseries(
        'Queue length',
        'Requests waiting in the sidecars for a slot, and in vLLM for a batch.',
        'short',
        [
          query(`sum(sidecar_queue_length{${SERVING}})`, 'sidecar queue'),
          query(`sum(vllm:num_requests_waiting{${SERVING}})`, 'vLLM waiting'),
          query(`sum(vllm:num_requests_running{${SERVING}})`, 'vLLM running'),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Refusals by reason',
        'Requests the sidecars refused themselves: keys, images, context length, body format, image URLs (SSRF guard), queue.',
        'reqps',
        [query(`sum by (reason) (rate(sidecar_refusals_total{${SERVING}}[$__rate_interval]))`, '{{reason}}')],
        16,
      ),
    )
    .withRow(new RowBuilder('Usage per API key'))
    .withPanel(
      timeseries(
        'Requests/s per key',
        'Requests that passed the key check, by key name and status class.',
        'reqps',
        [
          query(
            `sum by (key, status_class) (rate(sidecar_key_requests_total{${KEYED}}[$__rate_interval]))`,
            '{{key}} {{status_class}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Tokens/s per key',
        'Prompt tokens as the sidecar counts them, completion tokens as vLLM reports them.',
        'short',
        [
          query(
            `sum by (key) (rate(sidecar_key_prompt_tokens_total{${KEYED}}[$__rate_interval]))`,
            '{{key}} prompt',
          ),
          query(
            `sum by (key) (rate(sidecar_key_completion_tokens_total{${KEYED}}[$__rate_interval]))`,
            '{{key}} completion',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries('Images/s per key', 'Images in answered requests, by key name.', 'short', [
        query(`sum by (key) (rate(sidecar_key_images_total{${KEYED}}[$__rate_interval]))`, '{{key}}'),
      ]),
    )
    .withRow(new RowBuilder('GPUs (NVIDIA DCGM exporter)'))
    .withPanel(
      timeseries('GPU utilisation', 'DCGM_FI_DEV_GPU_UTIL of the serving pods’ GPUs.', 'percent', [
        query(`avg by (pod, gpu) (DCGM_FI_DEV_GPU_UTIL{${SERVING}})`, '{{pod}} GPU {{gpu}}'),
      ]),
    )
    .withPanel(
      timeseries(
        'GPU memory used',
        'DCGM_FI_DEV_FB_USED; vLLM reserves 90% of the memory at start (gpu-memory-utilization).',
        'mbytes',
        [query(`sum by (pod, gpu) (DCGM_FI_DEV_FB_USED{${SERVING}})`, '{{pod}} GPU {{gpu}}')],
      ),
    )
    .withPanel(
      timeseries('GPU power', 'DCGM_FI_DEV_POWER_USAGE.', 'watt', [
        query(`sum by (pod, gpu) (DCGM_FI_DEV_POWER_USAGE{${SERVING}})`, '{{pod}} GPU {{gpu}}'),
      ]),
    )
    .withRow(new RowBuilder('Operator'))
    .withPanel(
      timeseries(
        'Reconciles/s by result',
        'PixtralDeployment reconciles of every operator replica, by result.',
        'ops',
        [
          query(
            'sum by (result) (rate(controller_runtime_reconcile_total{controller="pixtraldeployment"}[$__rate_interval]))',
            '{{result}}',
          ),
        ],
        12,
      ),
    )
    .withPanel(
      timeseries(
        'Work queue depth',
        'Resources waiting to be reconciled.',
        'short',
        [query('max(workqueue_depth)', 'depth')],
        12,
      ),
    )
    .build();
}

/** Every PromQL expression of the dashboard's panels, with the panel title, for tests. */
export function panelQueries(dashboard: Dashboard): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  for (const panel of dashboard.panels ?? []) {
    if (!('targets' in panel)) continue;
    for (const t of panel.targets ?? [])
      out.push({ panel: panel.title ?? '', expr: (t as unknown as { expr: string }).expr });
  }
  return out;
}
