/**
 * Worker thread of OrderedHasher: hashes a file in order by reading it back from the page cache, up
 * to the frontier the main thread reports, so SHA-256 runs on its own core beside the download.
 * Messages in: `{ frontier }` (bytes safe to read), `{ finish: size }`. Out: `{ digest }` or `{ error }`.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const READ_BYTES = 4 * 1024 * 1024;
const port = parentPort!;
const fd = openSync((workerData as { path: string }).path, 'r');
const hash = createHash('sha256');
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
