/**
 * One GET for a byte range of a file, following the hub's redirects to its file store.
 *
 * Redirects are followed here rather than by undici's redirect interceptor because the header policy
 * per hop is the point: the hub token goes only to the origin it was configured for and is dropped
 * for good once a redirect leaves that origin (the file store gets signed URLs, as huggingface_hub
 * does), and Range/If-Range must ride along to the final hop.
 */
import type { Dispatcher } from 'undici';
import { ProvisionError } from './errors.ts';

const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** What to ask for. `end` is exclusive; no `range` means the whole file with no Range header. */
export interface RangeRequest {
  url: string;
  /** Sent as `Authorization: Bearer` to the first URL's origin only. */
  token: string | undefined;
  range: { start: number; end: number } | undefined;
  /** A strong ETag: the server sends the range only if the file still has it, else the whole file. */
  ifRange: string | undefined;
  signal: AbortSignal;
}

/** The opened response: status 200 (whole file) or 206 (the range), its validator and the body stream. */
export interface OpenedBody {
  status: 200 | 206;
  etag: string | undefined;
  /** From Content-Range on a 206: first byte, end (exclusive) and the file's total size. */
  contentRange: { start: number; end: number; total: number | undefined } | undefined;
  /** True when the server said it serves byte ranges (`Accept-Ranges: bytes`, or a 206). */
  acceptRanges: boolean;
  /** Content-Length of a 200 (the whole file's size), when sent. */
  contentLength: number | undefined;
  body: Dispatcher.ResponseData['body'];
}

/** A URL safe to log: the file store's signed query string never appears in logs or errors. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseContentRange(value: string | undefined): OpenedBody['contentRange'] {
  const match = value === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (match === null) return undefined;
  const total = match[3] === '*' ? undefined : Number(match[3]);
  return { start: Number(match[1]), end: Number(match[2]) + 1, total };
}

function statusError(
  status: number,
  url: string,
  headers: Dispatcher.ResponseData['headers'],
): ProvisionError {
  const where = redactUrl(url);
  if (status === 401 || status === 403) {
    return new ProvisionError(
      'Unauthorized',
      'terminal',
      `${where} answered ${status}: the hub token is missing, wrong or lacks access to this repository`,
    );
  }
  if (status === 404) {
    return new ProvisionError(
      'NotFound',
      'terminal',
      `${where} answered 404: check the repository, revision and file name`,
    );
  }
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfter = Number(header(headers, 'retry-after'));
    return new ProvisionError('HttpError', 'transient', `${where} answered ${status}`, {
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
    });
  }
  return new ProvisionError('HttpError', 'terminal', `${where} answered ${status}`);
}

/**
 * Opens the body of `req.url` (after redirects) through `dispatcher`. Resolves with a 200 or 206 whose
 * body the caller must consume or destroy; throws a ProvisionError for any other status.
 */
export async function openBody(dispatcher: Dispatcher, req: RangeRequest): Promise<OpenedBody> {
  const tokenOrigin = new URL(req.url).origin;
  let url = req.url;
  let sendToken = req.token !== undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'pixtral-operator-provisioner/0.1' };
    if (sendToken && new URL(url).origin === tokenOrigin) headers.authorization = `Bearer ${req.token}`;
    if (req.range !== undefined) headers.range = `bytes=${req.range.start}-${req.range.end - 1}`;
    if (req.range !== undefined && req.ifRange !== undefined) headers['if-range'] = req.ifRange;
    const res = await dispatcher.request({
      ...splitUrl(url),
      method: 'GET',
      headers,
      signal: req.signal,
    });
    if (REDIRECTS.has(res.statusCode)) {
      await res.body.dump();
      const location = header(res.headers, 'location');
      if (location === undefined) {
        throw new ProvisionError('HttpError', 'terminal', `${redactUrl(url)} redirected without a Location`);
      }
      const next = new URL(location, url).toString();
      // Once the chain leaves the token's origin the token is never sent again, even if it comes back.
      if (new URL(next).origin !== tokenOrigin) sendToken = false;
      url = next;
      continue;
    }
    if (res.statusCode === 200 || res.statusCode === 206) {
      const etag = header(res.headers, 'etag');
      return {
        status: res.statusCode,
        etag,
        contentRange:
          res.statusCode === 206 ? parseContentRange(header(res.headers, 'content-range')) : undefined,
        acceptRanges:
          res.statusCode === 206 || header(res.headers, 'accept-ranges')?.toLowerCase() === 'bytes',
        contentLength:
          res.statusCode === 200 ? optionalNumber(header(res.headers, 'content-length')) : undefined,
        body: res.body,
      };
    }
    await res.body.dump().catch(() => {});
    throw statusError(res.statusCode, url, res.headers);
  }
  throw new ProvisionError(
    'HttpError',
    'terminal',
    `${redactUrl(req.url)} redirected more than ${MAX_REDIRECTS} times`,
  );
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined || value === '' || !Number.isFinite(Number(value)) ? undefined : Number(value);
}

function splitUrl(url: string): { origin: string; path: string } {
  const u = new URL(url);
  return { origin: u.origin, path: `${u.pathname}${u.search}` };
}

/** True for an ETag usable in If-Range (RFC 9110 allows only strong validators there). */
export function isStrongEtag(etag: string | undefined): etag is string {
  return etag !== undefined && !etag.startsWith('W/');
}

/** Drops a response body we will not read (undici reports a plain destroy as an 'error' event). */
export function discard(body: OpenedBody['body']): void {
  body.on('error', () => {});
  body.destroy();
}
