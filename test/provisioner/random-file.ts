/**
 * A file of random bytes, as a stand-in for model weights. Its own module, free of vitest, so the
 * provisioner benchmark can use it too.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Writes `size` random bytes to `path`; resolves with their SHA-256 hex. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'w');
  const block = Buffer.allocUnsafe(8 * 1024 * 1024);
  try {
    for (let written = 0; written < size; written += block.length) {
      const chunk = block.subarray(0, Math.min(block.length, size - written));
      randomFillSync(chunk);
      hash.update(chunk);
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
