/**
 * A local stand-in for a Hugging Face hub and its file store, on two ports of 127.0.0.1 (so redirects
 * cross origins). The hub answers `/<repo>/resolve/<revision>/<file>` with a token check and a 302 to
 * the store's signed blob URL; the store serves bytes with ETag, Range and If-Range, and also plain
 * mirror paths `/mirror/<file>`. Tests inject faults (500s, cut connections, a wrong byte, stalls,
 * throttling, a changed ETag) and read what was requested and how many body bytes were sent.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A file the hub serves. */
export interface HubFile {
  name: string;
  path: string;
  size: number;
  sha256: string;
  /** Stored with LFS (the hub gives its SHA-256) rather than as a plain git file (only a blob id). Default true. */
  lfs?: boolean;
  /** Git blob id: of the content for a plain file, of the LFS pointer for an LFS file. Default: computed. */
  gitOid?: string;
  /**
   * The SHA-256 paths-info claims for an LFS file, when it should differ from the bytes served (a
   * hub serving stand-in bytes under the real catalog's ids). Default: `sha256`.
   */
  claimedSha256?: string;
}

/** Git's blob id of `content`: SHA-1 over `blob <size>\0` and the bytes. */
export function gitBlobId(content: Buffer | string): string {
  const bytes = Buffer.from(content);
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** The git blob id the hub reports for `file`. */
function gitOidOf(file: HubFile): string {
  if (file.gitOid !== undefined) return file.gitOid;
  if (file.lfs === false) return gitBlobId(readFileSync(file.path));
  return gitBlobId(
    `version https://git-lfs.github.com/spec/v1\noid sha256:${file.sha256}\nsize ${file.size}\n`,
  );
}

/** Faults the store injects; each counter is consumed by the responses it hits. */
export interface Faults {
  /** Answer the next N store requests with 500. */
  status500?: number;
  /** Cut the connection after `bytes` body bytes, in the next `times` responses. */
  cut?: { bytes: number; times: number };
  /** Send this byte of this file wrong in every response that covers it. */
  corrupt?: { file: string; offset: number };
  /** Stop sending for `ms` after `afterBytes`, in the next `times` responses. */
  stall?: { afterBytes: number; ms: number; times: number };
  /** Send at most this many bytes per second per response. */
  rateBytesPerSecond?: number;
  /** Append this to every ETag (a file that "changed" on the server). */
  etagSuffix?: string;
  /** Serve 200 with the whole file whatever the Range (a server without range support). */
  ignoreRange?: boolean;
  /** Report these ids for a file in paths-info instead of the real ones (a hub that disagrees). */
  wrongIds?: { file: string; sha256?: string; gitOid?: string; size?: number };
}

/** A request the hub or the store received. */
export interface SeenRequest {
  server: 'hub' | 'store';
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
  authorization: string | undefined;
}

/** The running servers. */
export interface HubServer {
  hubUrl: string;
  /** Base URL of the plain mirror (`<mirrorUrl>/<file>`). */
  mirrorUrl: string;
  faults: Faults;
  requests: SeenRequest[];
  /** Most store responses with a body in progress at once. */
  maxConcurrent: number;
  /** Body bytes sent, per file name. */
  bytesServed: Map<string, number>;
  /** Total body bytes sent for all files. */
  totalServed(): number;
  resetStats(): void;
  close(): Promise<void>;
}

async function listen(server: Server, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/** Starts the hub and its store. `token`, when set, is required by the hub (never by the store). */
export async function startHub(
  files: HubFile[],
  options: { repo: string; revision: string; token?: string; host?: string },
): Promise<HubServer> {
  const host = options.host ?? '127.0.0.1';
  const byName = new Map(files.map((f) => [f.name, f]));
  const bySha = new Map(files.map((f) => [f.sha256, f]));
  const state: HubServer = {
    hubUrl: '',
    mirrorUrl: '',
    faults: {},
    requests: [],
    maxConcurrent: 0,
    bytesServed: new Map(),
    totalServed: () => [...state.bytesServed.values()].reduce((a, b) => a + b, 0),
    resetStats: () => {
      state.requests.length = 0;
      state.bytesServed.clear();
      state.maxConcurrent = 0;
    },
    close: async () => {
      for (const server of [hub, store]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
  const seen = (server: 'hub' | 'store', req: IncomingMessage) =>
    state.requests.push({
      server,
      path: req.url ?? '',
      range: req.headers.range,
      ifRange: req.headers['if-range'] as string | undefined,
      authorization: req.headers.authorization,
    });

  const hub = createServer((req, res) => {
    seen('hub', req);
    const prefix = `/${options.repo}/resolve/${encodeURIComponent(options.revision)}/`;
    const url = new URL(req.url ?? '/', 'http://hub');
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"Invalid credentials"}');
      return;
    }
    if (url.pathname === `/api/models/${options.repo}/paths-info/${encodeURIComponent(options.revision)}`) {
      void pathsInfo(state, byName, req, res);
      return;
    }
    const file = url.pathname.startsWith(prefix)
      ? byName.get(decodeURIComponent(url.pathname.slice(prefix.length)))
      : undefined;
    if (file === undefined) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    res
      .writeHead(302, {
        location: `${storeUrl}/blobs/${file.sha256}?X-Amz-Signature=not-a-real-signature`,
        'x-linked-etag': `"${file.sha256}"`,
        'x-linked-size': String(file.size),
      })
      .end();
  });

  let active = 0;
  const store = createServer((req, res) => {
    seen('store', req);
    const path = new URL(req.url ?? '/', 'http://store').pathname;
    const file = path.startsWith('/blobs/')
      ? bySha.get(path.slice('/blobs/'.length))
      : path.startsWith('/mirror/')
        ? byName.get(decodeURIComponent(path.slice('/mirror/'.length)))
        : undefined;
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    if ((state.faults.status500 ?? 0) > 0) {
      state.faults.status500 = (state.faults.status500 ?? 0) - 1;
      res.writeHead(500).end('injected failure');
      return;
    }
    active++;
    state.maxConcurrent = Math.max(state.maxConcurrent, active);
    res.on('close', () => active--);
    void serveBytes(state, file, req, res);
  });

  const storeUrl = await listen(store, host);
  state.hubUrl = await listen(hub, host);
  state.mirrorUrl = `${storeUrl}/mirror`;
  return state;
}

/**
 * Hugging Face's paths-info answer: for each requested path that exists, its size and git blob id,
 * plus `lfs: { oid: <sha256>, size, pointerSize }` for LFS files (the shape huggingface_hub reads).
 */
async function pathsInfo(
  state: HubServer,
  byName: Map<string, HubFile>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  let body = '';
  for await (const chunk of req) body += chunk;
  const form = new URLSearchParams(body);
  const entries = form
    .getAll('paths')
    .map((path) => byName.get(path))
    .filter((f): f is HubFile => f !== undefined)
    .map((f) => {
      const wrong = state.faults.wrongIds?.file === f.name ? state.faults.wrongIds : undefined;
      const oid = wrong?.gitOid ?? gitOidOf(f);
      return f.lfs !== false
        ? {
            type: 'file',
            path: f.name,
            size: wrong?.size ?? f.size,
            oid,
            lfs: {
              oid: wrong?.sha256 ?? f.claimedSha256 ?? f.sha256,
              size: wrong?.size ?? f.size,
              pointerSize: 134,
            },
          }
        : { type: 'file', path: f.name, size: wrong?.size ?? f.size, oid };
    });
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(entries));
}

async function serveBytes(
  state: HubServer,
  file: HubFile,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const faults = state.faults;
  const etag = `"${file.sha256}${faults.etagSuffix ?? ''}"`;
  let start = 0;
  let end = file.size; // exclusive
  let status = 200;
  const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const ifRange = req.headers['if-range'];
  if (match !== null && !faults.ignoreRange && (ifRange === undefined || ifRange === etag)) {
    start = Number(match[1]);
    end = match[2] === '' ? file.size : Math.min(file.size, Number(match[2]) + 1);
    if (start >= file.size || start >= end) {
      res.writeHead(416, { 'content-range': `bytes */${file.size}` }).end();
      return;
    }
    status = 206;
  }
  const headers: Record<string, string> = {
    etag,
    'accept-ranges': faults.ignoreRange ? 'none' : 'bytes',
    'content-type': 'application/octet-stream',
    'content-length': String(end - start),
  };
  if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${file.size}`;
  res.writeHead(status, headers);
  if (end === start) {
    res.end();
    return;
  }

  // A cut or stall is spent only on a response long enough to reach it.
  const length = end - start;
  const cut =
    faults.cut !== undefined && faults.cut.times > 0 && length > faults.cut.bytes ? faults.cut : undefined;
  if (cut !== undefined) cut.times--;
  const stall =
    faults.stall !== undefined && faults.stall.times > 0 && length > faults.stall.afterBytes
      ? faults.stall
      : undefined;
  if (stall !== undefined) stall.times--;
  let sent = 0;
  let stalled = false;
  const startedAt = performance.now();
  const stream = createReadStream(file.path, { start, end: end - 1, highWaterMark: 1024 * 1024 });
  res.on('close', () => stream.destroy());
  try {
    for await (const data of stream as AsyncIterable<Buffer>) {
      let chunk = data;
      const offset = start + sent;
      const corrupt = faults.corrupt;
      if (corrupt?.file === file.name && corrupt.offset >= offset && corrupt.offset < offset + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[corrupt.offset - offset] = (chunk[corrupt.offset - offset] ?? 0) ^ 0xff;
      }
      if (cut !== undefined && sent + chunk.length >= cut.bytes) {
        const head = chunk.subarray(0, cut.bytes - sent);
        res.write(head);
        count(state, file, head.length);
        // Let the head reach the socket, then cut it mid-body.
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      if (stall !== undefined && !stalled && sent + chunk.length >= stall.afterBytes) {
        stalled = true;
        await sleep(stall.ms);
        if (res.destroyed) return;
      }
      if (!res.write(chunk)) await drained(res);
      if (res.destroyed) return;
      count(state, file, chunk.length);
      sent += chunk.length;
      const rate = faults.rateBytesPerSecond;
      if (rate !== undefined) {
        const aheadMs = (sent / rate) * 1000 - (performance.now() - startedAt);
        if (aheadMs > 1) await sleep(aheadMs);
      }
    }
    res.end();
  } catch {
    res.destroy();
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

function count(state: HubServer, file: HubFile, bytes: number): void {
  state.bytesServed.set(file.name, (state.bytesServed.get(file.name) ?? 0) + bytes);
}
