/**
 * The floor a Node proxy cannot go below: a bare node:http server relaying to the same stub
 * through an undici Pool, with none of the sidecar's checks, logs or metrics. The benchmark runs
 * it beside the sidecar so the table separates the sidecar's own cost from the runtime's.
 *   PORT=8081 UPSTREAM_URL=http://127.0.0.1:8000 node bench/sidecar-proxy-node-floor.ts
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.env.UPSTREAM_URL ?? 'http://127.0.0.1:8000', { connections: 256 });
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    const upstream = await pool.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat(chunks),
    });
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'content-length']) {
      const value = upstream.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    res.writeHead(upstream.statusCode, headers);
    upstream.body.pipe(res);
  } catch {
    res.writeHead(502).end();
  }
});
server.listen(Number(process.env.PORT ?? 8081), '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
