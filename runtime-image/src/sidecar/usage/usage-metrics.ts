/**
 * Usage per API key, for chargeback and per-team dashboards. The `key` label is the key's id: its
 * name in the API keys Secret (the `id:` of the hashes file), never the key or its hash. Only
 * requests that passed the key check are counted, so the label takes at most as many values as
 * the file has keys; requests on a keyless listener (DISABLE_AUTH, the private noauth port) are
 * counted in sidecar_requests_total only.
 */
import type { Registry } from 'prom-client';
import { type CounterChild, FastCounter } from '../fast-metrics.ts';

/** The per-key counters. */
export interface UsageMetrics {
  /** A request from `key` ended with HTTP `status` (499 when the client went away). */
  request(key: string, status: number): void;
  /** A request from `key` was answered by vLLM: what it cost. */
  usage(
    key: string,
    used: { promptTokens: number; completionTokens: number | undefined; images: number },
  ): void;
}

/** `2xx`, `4xx`, `5xx`...: status classes keep the label small while telling success from refusal. */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** Registers the counters on `registry`. */
export function createUsageMetrics(registry: Registry): UsageMetrics {
  const registers = [registry];
  const requests = new FastCounter({
    name: 'sidecar_key_requests_total',
    help: 'Requests by API key id (its name in the keys Secret) and HTTP status class',
    labelNames: ['key', 'status_class'],
    registers,
  });
  const prompt = new FastCounter({
    name: 'sidecar_key_prompt_tokens_total',
    help: "Prompt tokens of answered requests by API key id, counted by the sidecar's own tokenizer",
    labelNames: ['key'],
    registers,
  });
  const completion = new FastCounter({
    name: 'sidecar_key_completion_tokens_total',
    help: "Completion tokens by API key id, from vLLM's usage (the final chunk of a stream)",
    labelNames: ['key'],
    registers,
  });
  const images = new FastCounter({
    name: 'sidecar_key_images_total',
    help: 'Images in answered requests by API key id',
    labelNames: ['key'],
    registers,
  });
  // The keys are few: each one's children are bound once.
  const requestChildren = new Map<string, CounterChild>();
  const usageChildren = new Map<string, CounterChild[]>();
  return {
    request(key, status) {
      const status_class = statusClass(status);
      const id = `${key}\n${status_class}`;
      let child = requestChildren.get(id);
      if (child === undefined) {
        child = requests.labels({ key, status_class });
        requestChildren.set(id, child);
      }
      child.inc();
    },
    usage(key, used) {
      let children = usageChildren.get(key);
      if (children === undefined) {
        children = [prompt.labels({ key }), completion.labels({ key }), images.labels({ key })];
        usageChildren.set(key, children);
      }
      const [promptOf, completionOf, imagesOf] = children as [CounterChild, CounterChild, CounterChild];
      promptOf.inc(used.promptTokens);
      if (used.completionTokens !== undefined) completionOf.inc(used.completionTokens);
      imagesOf.inc(used.images);
    },
  };
}
