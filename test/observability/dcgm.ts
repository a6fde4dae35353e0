/**
 * A static exposition of NVIDIA DCGM exporter metrics (names, types and labels of its default
 * counters, with Kubernetes pod mapping on) for GPU panels and alerts in tests: no test machine has
 * a GPU, so the Prometheus test scrapes this instead of a real dcgm-exporter.
 */

/** The DCGM fields the dashboard and alerts read, with dcgm-exporter's types and help. */
const FIELDS = [
  ['DCGM_FI_DEV_GPU_UTIL', 'gauge', 'GPU utilization (in %).', 87],
  ['DCGM_FI_DEV_FB_USED', 'gauge', 'Framebuffer memory used (in MiB).', 73_500],
  ['DCGM_FI_DEV_FB_FREE', 'gauge', 'Framebuffer memory free (in MiB).', 7_500],
  ['DCGM_FI_DEV_POWER_USAGE', 'gauge', 'Power draw (in W).', 512.5],
] as const;

/** The metric names the exposition carries. */
export const DCGM_METRIC_NAMES: readonly string[] = FIELDS.map(([name]) => name);

/** One GPU of a serving pod. */
export interface GpuOf {
  namespace: string;
  pod: string;
  gpu: number;
}

/** The exposition text dcgm-exporter would serve for `gpus`. */
export function dcgmExposition(gpus: readonly GpuOf[]): string {
  const lines: string[] = [];
  for (const [name, type, help, value] of FIELDS) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const g of gpus) {
      const labels = [
        `gpu="${g.gpu}"`,
        `UUID="GPU-00000000-0000-0000-0000-00000000000${g.gpu}"`,
        `device="nvidia${g.gpu}"`,
        'modelName="NVIDIA H100 80GB HBM3"',
        'Hostname="gpu-node-1"',
        'container="vllm"',
        `namespace="${g.namespace}"`,
        `pod="${g.pod}"`,
      ];
      lines.push(`${name}{${labels.join(',')}} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
