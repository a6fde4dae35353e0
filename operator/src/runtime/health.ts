/**
 * `/healthz` (the process serves), `/readyz` (every cache has synced) and `/metrics`
 * (Prometheus text). Plain node:http: three routes do not justify a framework.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RuntimeMetrics } from './metrics.ts';

/** What the health server asks about the process. */
export interface HealthSources {
  metrics: Pick<RuntimeMetrics, 'pieces' | 'registry'>;
  /** Names of caches not yet synced; ready when empty. */
  unsynced(): string[];
  /** Whether the process is shutting down (then not ready). */
  stopping(): boolean;
}

/** A started health server. */
export interface HealthServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  close(): Promise<void>;
}

/** Starts the health server on `host:port` (port 0 = any free port). */
export async function startHealthServer(
  sources: HealthSources,
  host: string,
  port: number,
): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const unsynced = sources.unsynced();
      if (sources.stopping()) res.writeHead(503, { 'content-type': 'text/plain' }).end('shutting down\n');
      else if (unsynced.length)
        res
          .writeHead(503, { 'content-type': 'text/plain' })
          .end(`caches not synced: ${unsynced.join(', ')}\n`);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/metrics') {
      // Streamed: each piece is printed once the socket takes the one before (see `pieces`).
      // The status waits for the first piece, so a failure there is a 500; a later one can
      // only cut the body short, which fails the scrape too.
      const pieces = sources.metrics.pieces();
      pieces.next().then(
        (first) => {
          res.writeHead(200, { 'content-type': sources.metrics.registry.contentType });
          const body = Readable.from(startingWith(first, pieces), { highWaterMark: 2 });
          pipeline(body, res).catch(() => res.destroy());
        },
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `first`, then the rest of `pieces`. */
async function* startingWith(
  first: IteratorResult<string>,
  pieces: AsyncIterable<string>,
): AsyncGenerator<string> {
  if (first.done) return;
  yield first.value;
  yield* pieces;
}
