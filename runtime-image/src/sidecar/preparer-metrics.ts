/** The preparer's Prometheus metrics: prompt token counts and refusal reasons. */
import { Counter, Histogram, type Registry } from 'prom-client';

/** Metrics the preparer updates; `register` adds them to a registry created later (the server's). */
export interface PreparerMetrics {
  promptTokens: Histogram;
  imagesPerRequest: Histogram;
  refusals: Counter<'reason'>;
  register(registry: Registry): void;
}

/** Creates the metrics, registered on `registry` when given. */
export function createPreparerMetrics(registry?: Registry): PreparerMetrics {
  const registers = registry ? [registry] : [];
  const promptTokens = new Histogram({
    name: 'sidecar_prompt_tokens',
    help: 'Prompt tokens of accepted requests, counted as mistral-common does (text and images)',
    buckets: [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072],
    registers,
  });
  const imagesPerRequest = new Histogram({
    name: 'sidecar_images_per_request',
    help: 'Images in requests that passed the image count check',
    buckets: [0, 1, 2, 4, 8, 12],
    registers,
  });
  const refusals = new Counter({
    name: 'sidecar_prepare_refusals_total',
    help: 'Requests refused while checking images and tokens, by reason',
    labelNames: ['reason'],
    registers,
  });
  return {
    promptTokens,
    imagesPerRequest,
    refusals,
    register(target) {
      for (const metric of [promptTokens, imagesPerRequest, refusals]) target.registerMetric(metric);
    },
  };
}
