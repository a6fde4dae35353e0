import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool('http://127.0.0.1:18001', { connections: 256 });
createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString()));
  const up = await pool.request({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json' },
    body,
  });
  res.writeHead(up.statusCode, {
    'content-type': String(up.headers['content-type']),
    'content-length': String(up.headers['content-length']),
  });
  up.body.pipe(res);
}).listen(18002, '127.0.0.1');
