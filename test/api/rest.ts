/**
 * A raw JSON client for custom resources, for tests. Raw on purpose (as the harness's applyRaw):
 * we need the API server's exact Status message, and control of `fieldValidation`, and
 * client-node's typed serializers would get in the way of both.
 */
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, fetch } from 'undici';

/** What the API server answered. */
export interface RestResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON from the server
  body: any;
  /** `Warning` headers (e.g. unknown fields pruned under fieldValidation=Warn). */
  warnings: string[];
}

/** `299 - "text with \"quotes\""` (RFC 7234 warn-text), possibly several joined by commas, as plain texts. */
function decodeWarnings(header: string | null): string[] {
  if (!header) return [];
  return [...header.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
}

/** A tiny REST client bound to one kubeconfig. Call `close()` when done. */
export class Rest {
  readonly #kc: KubeConfig;
  #agent: Agent | undefined;
  #headers: Record<string, string> = {};

  constructor(kc: KubeConfig) {
    this.#kc = kc;
  }

  async #dispatcher(): Promise<Agent> {
    if (this.#agent) return this.#agent;
    const options: RequestOptions = {};
    await this.#kc.applyToHTTPSOptions(options);
    this.#headers = (options.headers as Record<string, string>) ?? {};
    this.#agent = new Agent({ connect: { ca: options.ca, cert: options.cert, key: options.key } as object });
    return this.#agent;
  }

  /** Sends one request; never throws on an HTTP error status. */
  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<RestResponse> {
    const dispatcher = await this.#dispatcher();
    const response = await fetch(`${this.#kc.getCurrentCluster()?.server}${path}`, {
      method,
      headers: { ...this.#headers, 'content-type': contentType, accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher,
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? JSON.parse(text) : undefined,
      warnings: decodeWarnings(response.headers.get('warning')),
    };
  }

  async close(): Promise<void> {
    await this.#agent?.close();
  }
}
