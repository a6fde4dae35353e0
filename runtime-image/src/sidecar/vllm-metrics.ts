/**
 * vLLM's own metrics, carried on the sidecar's /metrics. vLLM listens on the pod's loopback only
 * (its /metrics shares the port with the API, so it cannot be exposed without exposing the API
 * unauthenticated), so Prometheus cannot scrape it: one scrape of the sidecar's port returns the
 * sidecar's series followed by vLLM's (`vllm:*` and its `process_*`/`python_*`, which the
 * sidecar's own `sidecar_` prefix keeps apart). When vLLM does not answer, the scrape still
 * returns the sidecar's series.
 */
import { Client } from 'undici';

/** A vLLM exposition is a few hundred kB at most; past this it is dropped rather than held. */
const MAX_BYTES = 4 * 1024 * 1024;
const TIMEOUT_MS = 2_000;

/** Reads vLLM's /metrics over a connection of its own (never queued behind generations). */
export class VllmMetrics {
  private readonly client: Client;
  private readonly path: string;

  constructor(upstreamUrl: string) {
    const url = new URL(upstreamUrl);
    this.path = `${url.pathname.replace(/\/+$/, '')}/metrics`;
    this.client = new Client(url.origin, {
      connect: { timeout: TIMEOUT_MS },
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
  }

  /** vLLM's exposition text ending in a newline, or '' when it did not answer 200 in time. */
  async text(): Promise<string> {
    try {
      const res = await this.client.request({
        method: 'GET',
        path: this.path,
        // The text format the sidecar's own registry speaks; never OpenMetrics (its `# EOF` would end the scrape).
        headers: { accept: 'text/plain;version=0.0.4' },
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return '';
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_BYTES) {
          res.body.destroy();
          return '';
        }
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      return text === '' || text.endsWith('\n') ? text : `${text}\n`;
    } catch {
      return '';
    }
  }

  close(): Promise<void> {
    return this.client.destroy();
  }
}
