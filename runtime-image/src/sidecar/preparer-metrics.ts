/** The preparer's Prometheus metrics: prompt token counts and images per request. */
import { FastHistogram } from './fast-metrics.ts';

/** Metrics the preparer updates; the sidecar registers them on its own registry (server.ts). */
export interface PreparerMetrics {
  promptTokens: FastHistogram;
  imagesPerRequest: FastHistogram;
}

/** Creates the metrics, on no registry yet. */
export function createPreparerMetrics(): PreparerMetrics {
  return {
    promptTokens: new FastHistogram({
      name: 'sidecar_prompt_tokens',
      help: 'Prompt tokens of accepted requests, counted as mistral-common does (text and images)',
      buckets: [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072],
      registers: [],
    }),
    imagesPerRequest: new FastHistogram({
      name: 'sidecar_images_per_request',
      help: 'Images in requests that passed the image count check',
      buckets: [0, 1, 2, 4, 8, 12],
      registers: [],
    }),
  };
}
