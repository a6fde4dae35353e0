/**
 * Test rig for the limits: the real sidecar (server.ts) with the full preparer in front of the
 * vLLM-compatible stub, an image server on 127.0.0.1 (files, redirects) that the SSRF guard's
 * allow-list lets through, and a canary listener that no request may ever reach.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import type { SidecarConfigInput } from '../../runtime-image/src/sidecar/config.ts';
import { createImageFetcher } from '../../runtime-image/src/sidecar/fetch-image.ts';
import { createPreparer, type Preparer } from '../../runtime-image/src/sidecar/preparer.ts';
import { createSidecar, type Sidecar } from '../../runtime-image/src/sidecar/server.ts';
import { type Resolver, SsrfGuard } from '../../runtime-image/src/sidecar/ssrf-guard.ts';
import { captureLogs } from '../sidecar/harness.ts';
import { startUpstreamStub, type UpstreamStub } from '../upstream-stub/stub.ts';
import { ensureOracleVenv, ORACLE_PYTHON, ROOT, testTokenizer } from './oracle.ts';

/** The served model name. */
export const MODEL = 'mistral/pixtral-12b-2409:bf16';

const IMAGES_DIR = join(ROOT, '.cache/sidecar-images');

/** Bytes of a test image made by test/oracle/make_images.py (generated on first use). */
export function image(name: string): Buffer {
  if (!existsSync(join(IMAGES_DIR, 'photo.png'))) {
    ensureOracleVenv();
    execFileSync(ORACLE_PYTHON, [join(ROOT, 'test/oracle/make_images.py'), IMAGES_DIR], { stdio: 'inherit' });
  }
  return readFileSync(join(IMAGES_DIR, name));
}

/** A data: URL of a test image, labelled with `mime` (the sidecar ignores the label). */
export function dataUrl(name: string, mime = 'image/png'): string {
  return `data:${mime};base64,${image(name).toString('base64')}`;
}

/** A TCP listener that counts connections; SSRF tests assert it stays at zero. */
export interface Canary {
  port: number;
  connections: number;
  close(): Promise<void>;
}

/** Listens on every loopback address (IPv4 and IPv6) and counts connections. */
export async function startCanary(): Promise<Canary> {
  const canary: Canary = { port: 0, connections: 0, close: async () => {} };
  const server = createTcpServer((socket) => {
    canary.connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '::', ipv6Only: false }, resolve));
  canary.port = (server.address() as { port: number }).port;
  canary.close = () => new Promise((resolve) => server.close(() => resolve()));
  return canary;
}

/**
 * The image server: `/img/<name>` serves a test image, `/slow/<name>` the same after 100 ms,
 * `/redirect?to=` redirects, `/chain/<n>` redirects n times.
 */
export interface ImageServer {
  port: number;
  url: string;
  connections: number;
  /** Paths of the requests received, in order. */
  paths: string[];
  close(): Promise<void>;
}

/** Starts the image server on 127.0.0.1. */
export async function startImageServer(): Promise<ImageServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    result.paths.push(url.pathname);
    if (url.pathname.startsWith('/img/')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(image(url.pathname.slice(5)));
    } else if (url.pathname.startsWith('/slow/')) {
      const bytes = image(url.pathname.slice(6));
      setTimeout(() => res.writeHead(200).end(bytes), 100);
    } else if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
    } else if (url.pathname.startsWith('/chain/')) {
      const n = Number(url.pathname.slice(7));
      res.writeHead(302, { location: n > 0 ? `/chain/${n - 1}` : '/img/photo.png' }).end();
    } else if (url.pathname === '/big') {
      res.writeHead(200);
      res.end(Buffer.alloc(2 * 1024 * 1024, 1));
    } else res.writeHead(404).end();
  });
  const result: ImageServer = { port: 0, url: '', connections: 0, paths: [], close: async () => {} };
  server.on('connection', () => result.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  result.port = (server.address() as { port: number }).port;
  result.url = `http://127.0.0.1:${result.port}`;
  result.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return result;
}

/** Test DNS: fixed answers, so rebinding and mixed answers are reproducible without a DNS server. */
export function testResolver(answers: Record<string, string[]>): Resolver {
  return async (hostname) => {
    const list = answers[hostname.toLowerCase()];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

/** A sidecar answer: the status and the JSON body (an OpenAI error body when refused). */
export interface ChatAnswer {
  status: number;
  body: { error: { message: string; type: string; param: string | null; code: string | number | null } };
}

/** The image URLs of a request body the stub received, in order. */
export function forwardedImageUrls(body: unknown): string[] {
  const messages = (body as { messages: { content: unknown }[] }).messages;
  return messages.flatMap((m) =>
    Array.isArray(m.content)
      ? (m.content as { type: string; image_url?: { url: string } }[]).flatMap((p) =>
          p.image_url ? [p.image_url.url] : [],
        )
      : [],
  );
}

/** A sidecar with the full preparer, its stub, and the log text. */
export interface LimitsRig {
  sidecar: Sidecar;
  stub: UpstreamStub;
  preparer: Preparer;
  logs(): string;
  /** POSTs a chat body to the sidecar and returns status and parsed JSON. */
  chat(body: unknown): Promise<ChatAnswer>;
  close(): Promise<void>;
}

/** Starts stub + sidecar; `allow` and `resolve` configure the SSRF guard. */
export async function startLimitsRig(
  options: {
    config?: Partial<SidecarConfigInput>;
    allow?: string[];
    resolve?: Resolver;
    maxRedirects?: number;
  } = {},
): Promise<LimitsRig> {
  const stub = await startUpstreamStub();
  const { logger, logs } = captureLogs();
  const config = {
    host: '127.0.0.1',
    port: 0,
    upstreamUrl: stub.url,
    disableAuth: true,
    ...options.config,
  } satisfies SidecarConfigInput;
  const guard = new SsrfGuard({
    allow: options.allow ?? [],
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  const preparer = createPreparer({
    tokenizer: await testTokenizer(),
    maxImagesPerRequest: config.maxImagesPerRequest ?? 12,
    maxContextLength: config.maxContextLength ?? 131_072,
    maxImageBytes: 1024 * 1024,
    fetcher: createImageFetcher({
      guard,
      maxBytes: 1024 * 1024,
      maxRedirects: options.maxRedirects ?? 3,
      logger,
      totalTimeoutMs: 5_000,
    }),
    logger,
  });
  const sidecar = await createSidecar(config, { preparer, logger, processMetrics: false });
  return {
    sidecar,
    stub,
    preparer,
    logs,
    async chat(body) {
      const res = await fetch(`${sidecar.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as ChatAnswer['body'] };
    },
    close: async () => {
      await sidecar.shutdown(0);
      await preparer.close();
      await stub.close();
    },
  };
}

/** A chat body with one user message holding `text` and the given image URLs. */
export function imageBody(urls: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: MODEL,
    max_tokens: 8,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe the images.' },
          ...urls.map((url) => ({ type: 'image_url', image_url: { url } })),
        ],
      },
    ],
    ...extra,
  };
}
