/**
 * The stub's /metrics: the vLLM series dashboards, alerts and KEDA's default query read, under
 * vLLM's names and `model_name` label (vllm/v1/metrics/loggers.py), filled from what the stub
 * really did, so a test scraping it sees numbers that move with its load.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Counts the stub updates as it answers. */
export interface VllmMetrics {
  registry: Registry;
  /** One finished request: its prompt and completion tokens, time to first token and end to end, in seconds. */
  finished(done: {
    promptTokens: number;
    completionTokens: number;
    firstTokenSeconds: number;
    e2eSeconds: number;
  }): void;
}

/** Latency buckets as vLLM declares them for time to first token (seconds). */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Latency buckets as vLLM declares them for end-to-end request latency (seconds). */
const E2E_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60];

/** Creates the metrics; `running` and `waiting` are read at scrape time. */
export function createVllmMetrics(
  model: () => string,
  live: { running: () => number; waiting: () => number },
): VllmMetrics {
  const registry = new Registry();
  const registers = [registry];
  const labelNames = ['model_name'];
  new Gauge({
    name: 'vllm:num_requests_running',
    help: 'Number of requests in model execution batches.',
    labelNames,
    registers,
    collect() {
      this.set({ model_name: model() }, live.running());
    },
  });
  new Gauge({
    name: 'vllm:num_requests_waiting',
    help: 'Number of requests waiting to be processed.',
    labelNames,
    registers,
    collect() {
      this.set({ model_name: model() }, live.waiting());
    },
  });
  const prompt = new Counter({
    name: 'vllm:prompt_tokens_total',
    help: 'Number of prefill tokens processed.',
    labelNames,
    registers,
  });
  const generation = new Counter({
    name: 'vllm:generation_tokens_total',
    help: 'Number of generation tokens processed.',
    labelNames,
    registers,
  });
  const ttft = new Histogram({
    name: 'vllm:time_to_first_token_seconds',
    help: 'Histogram of time to first token in seconds.',
    labelNames,
    buckets: TTFT_BUCKETS,
    registers,
  });
  const e2e = new Histogram({
    name: 'vllm:e2e_request_latency_seconds',
    help: 'Histogram of e2e request latency in seconds.',
    labelNames,
    buckets: E2E_BUCKETS,
    registers,
  });
  return {
    registry,
    finished(done) {
      const labels = { model_name: model() };
      prompt.inc(labels, done.promptTokens);
      generation.inc(labels, done.completionTokens);
      ttft.observe(labels, done.firstTokenSeconds);
      e2e.observe(labels, done.e2eSeconds);
    },
  };
}
