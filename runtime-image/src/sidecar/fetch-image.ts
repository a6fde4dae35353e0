/**
 * Fetches an http(s) image URL for the sidecar, safely: vLLM never fetches anything, it only gets
 * the bytes fetched here as a data: URL. Each URL (and each redirect target) is parsed once with
 * WHATWG `URL` and that object is what undici connects with; the connector of ssrf-guard.ts vets
 * every address the name resolves to at connect time; redirects are followed by hand; connect,
 * header and total time limits and a byte cap apply. Clients get one generic message, logs the detail.
 */
import type { Logger } from 'pino';
import { Agent, buildConnector, request } from 'undici';
import { ImageRejected } from './images/image-error.ts';
import { SsrfGuard } from './ssrf-guard.ts';

/** Options of the image fetcher; times are in milliseconds. */
export interface ImageFetcherOptions {
  /** Address policy (allow-list for tests, resolver). Default: a guard with no exceptions. */
  guard?: SsrfGuard;
  /** Largest body accepted, in bytes. Default 10 MiB. */
  maxBytes?: number;
  /** Redirects followed, each vetted like the first URL. 0 refuses any redirect. Default 3. */
  maxRedirects?: number;
  /** TCP (and TLS) connect limit. Default 3000. */
  connectTimeoutMs?: number;
  /** Limit until the response headers arrive. Default 5000. */
  headersTimeoutMs?: number;
  /** Limit for the whole fetch, redirects and body included. Default 10000 (mistral-common's 10 s). */
  totalTimeoutMs?: number;
  /** Where refusals are logged (host and reason, never bytes). */
  logger?: Logger;
}

/** Fetches images; `close()` releases its connection pool. */
export interface ImageFetcher {
  /** The image bytes at `url`; throws ImageRejected('image_fetch_failed') on any refusal. */
  fetch(url: string, signal: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
}

/** The one message a client sees for any fetch refusal, so probing learns nothing. */
export const FETCH_REFUSED_MESSAGE =
  'The image URL could not be fetched. Use a public http(s) URL or a data: URL.';

class FetchRefused extends Error {}

/** Creates an image fetcher with its own connection pool pinned to vetted addresses. */
export function createImageFetcher(options: ImageFetcherOptions = {}): ImageFetcher {
  const guard = options.guard ?? new SsrfGuard();
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const maxRedirects = options.maxRedirects ?? 3;
  const connectTimeout = options.connectTimeoutMs ?? 3000;
  const agent = new Agent({
    connect: guard.connector(buildConnector({ timeout: connectTimeout })),
    headersTimeout: options.headersTimeoutMs ?? 5000,
    bodyTimeout: options.headersTimeoutMs ?? 5000,
    maxResponseSize: maxBytes,
  });

  async function fetchOnce(url: URL, signal: AbortSignal): Promise<Buffer> {
    let current = url;
    for (let hop = 0; ; hop++) {
      checkUrl(current);
      const res = await request(current, {
        dispatcher: agent,
        method: 'GET',
        signal,
        headers: { accept: 'image/png, image/jpeg, image/webp, image/gif', 'user-agent': 'pixtral-sidecar' },
      });
      if (res.statusCode >= 300 && res.statusCode < 400) {
        await res.body.dump({ limit: 64 * 1024 });
        const location = res.headers.location;
        if (typeof location !== 'string')
          throw new FetchRefused(`redirect ${res.statusCode} without one Location`);
        if (hop >= maxRedirects) throw new FetchRefused(`more than ${maxRedirects} redirects`);
        current = new URL(location, current);
        continue;
      }
      if (res.statusCode !== 200) {
        await res.body.dump({ limit: 64 * 1024 });
        throw new FetchRefused(`status ${res.statusCode}`);
      }
      const declared = Number(res.headers['content-length']);
      if (declared > maxBytes) {
        res.body.destroy();
        throw new FetchRefused(`content-length ${declared} over ${maxBytes}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) {
          res.body.destroy();
          throw new FetchRefused(`body over ${maxBytes} bytes`);
        }
        chunks.push(chunk);
      }
      return Buffer.concat(chunks, size);
    }
  }

  return {
    async fetch(raw, signal) {
      // A timer cleared on return, not AbortSignal.timeout: a deadline firing after the fetch
      // would abort undici's finished request and surface as an unhandled error.
      const deadline = new AbortController();
      const timer = setTimeout(
        () => deadline.abort(new Error('total time limit')),
        options.totalTimeoutMs ?? 10_000,
      );
      let host = '(unparsed)';
      try {
        const url = new URL(raw);
        host = url.host;
        return await fetchOnce(url, AbortSignal.any([signal, deadline.signal]));
      } catch (err) {
        if (signal.aborted) throw err;
        options.logger?.warn(
          { host, err: err instanceof Error ? err.message : String(err) },
          'Refused image URL',
        );
        throw new ImageRejected('image_fetch_failed', FETCH_REFUSED_MESSAGE);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => agent.close(),
  };
}

/** Scheme and userinfo rules, checked on the parsed URL of every hop. */
function checkUrl(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FetchRefused(`scheme ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw new FetchRefused('userinfo in URL');
}
