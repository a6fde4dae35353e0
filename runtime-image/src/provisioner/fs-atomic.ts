/**
 * Durable, atomic file operations: write under a temporary name, fsync, rename over the final name,
 * fsync the folder. A reader (the sidecar, vLLM, the next provisioner) sees the old file or the new
 * one, never a torn one, and after a crash the rename is either on disk or not.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** fsyncs a folder so that renames and creations inside it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Renames `from` to `to` (same filesystem) and fsyncs `to`'s folder. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncDir(dirname(to));
}

/**
 * Writes `data` to `path` atomically. `durable` also fsyncs the file and the folder: the manifest
 * needs it; the resume state does not (after a crash it may point behind the data, which only costs
 * a re-download, or ahead of it, which the final digest check catches).
 */
export async function writeFileAtomic(path: string, data: string, durable: boolean): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  if (durable) await renameDurable(temp, path);
  else await rename(temp, path);
}
