/**
 * Worker thread of OrderedHasher: hashes a file in order by reading it back from the page cache, up
 * to the frontier the main thread reports, so the hash (SHA-256, or git's blob SHA-1) runs on its own core beside the download.
 * Messages in: `{ frontier }` (bytes safe to read), `{ finish: size }`. Out: `{ digest }` or `{ error }`.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { type DigestMethod, startHash } from './digest.ts';

const READ_BYTES = 4 * 1024 * 1024;
const port = parentPort!;
const data = workerData as { path: string; method: DigestMethod; size: number };
const fd = openSync(data.path, 'r');
const hash = startHash(data.method, data.size);
const buffer = Buffer.allocUnsafe(READ_BYTES);
let hashed = 0;

function catchUp(to: number): void {
  while (hashed < to) {
    const bytesRead = readSync(fd, buffer, 0, Math.min(READ_BYTES, to - hashed), hashed);
    if (bytesRead === 0)
      throw new Error(`Read back 0 bytes at offset ${hashed}: the file is shorter than written`);
    hash.update(buffer.subarray(0, bytesRead));
    hashed += bytesRead;
  }
}

port.on('message', (message: { frontier: number } | { finish: number }) => {
  try {
    if ('frontier' in message) {
      catchUp(message.frontier);
      return;
    }
    catchUp(message.finish);
    closeSync(fd);
    port.postMessage({ digest: hash.digest('hex') });
  } catch (err) {
    port.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
