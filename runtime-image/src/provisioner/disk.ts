/** Disk checks and byte formatting for the provisioner's messages. */
import { createReadStream } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { type DigestMethod, startHash } from './digest.ts';
import { ProvisionError } from './errors.ts';

// Room kept for the manifest, resume records and filesystem metadata.
const HEADROOM_BYTES = 16 * 1024 * 1024;

/** Formats a byte count for people: `23.6 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Throws DiskFull, with both figures, when `target`'s filesystem cannot take `neededBytes` more. */
export async function checkDiskSpace(target: string, neededBytes: number): Promise<{ freeBytes: number }> {
  const stats = await statfs(target);
  const freeBytes = stats.bavail * stats.bsize;
  if (neededBytes + HEADROOM_BYTES > freeBytes) {
    throw new ProvisionError(
      'DiskFull',
      'terminal',
      `Not enough disk space in ${target}: the download needs ${formatBytes(neededBytes)} more, ` +
        `${formatBytes(freeBytes)} are free; give the weights volume more capacity`,
    );
  }
  return { freeBytes };
}

/** The digest (lowercase hex) of a file of `size` bytes on disk by `method`, read once. */
export async function hashFile(
  path: string,
  signal: AbortSignal,
  method: DigestMethod = 'sha256',
  size = 0,
): Promise<string> {
  const hash = startHash(method, size);
  await pipeline(createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }), hash, { signal });
  return hash.digest('hex');
}
