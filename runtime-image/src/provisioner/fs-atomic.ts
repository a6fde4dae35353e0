/**
 * Durable, atomic file operations: write under a temporary name, fsync, rename over the final name,
 * fsync the folder. A reader (the sidecar, vLLM, the next provisioner) sees the old file or the new
 * one, never a torn one, and after a crash the rename is either on disk or not.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
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

/**
 * Flushes a file that is being written to disk in the background, every `everyBytes` written, so the
 * final fsync has only the last stretch left. Without it the kernel keeps a fresh 1 GiB download
 * dirty in memory (below the background writeback threshold) and the closing fsync wrote all of it:
 * ~0.7 s of tail per GiB here, 10-20% of the whole run. Node has no sync_file_range, so fdatasync.
 */
export class BackgroundSync {
  readonly #handle: FileHandle;
  readonly #everyBytes: number;
  #since = 0;
  #running: Promise<void> | undefined;

  /** @param everyBytes bytes written between flushes. */
  constructor(handle: FileHandle, everyBytes: number) {
    this.#handle = handle;
    this.#everyBytes = everyBytes;
  }

  /** Counts written bytes and starts a flush when due (one at a time; errors surface in the final fsync). */
  written(bytes: number): void {
    this.#since += bytes;
    if (this.#since < this.#everyBytes || this.#running !== undefined) return;
    this.#since = 0;
    this.#running = this.#handle
      .datasync()
      .catch(() => {})
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** Waits for a flush in progress. */
  async settle(): Promise<void> {
    await this.#running;
  }
}
