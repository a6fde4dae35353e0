/**
 * One provisioner per folder at a time. proper-lockfile holds an mkdir lock (`.provision.lock`, atomic
 * on local filesystems and NFS alike) and refreshes its mtime as a heartbeat; a lock whose heartbeat
 * stopped for `staleMs` (its holder was killed) is taken over. A loser waits here until it wins, then
 * finds the winner's manifest and exits without doing anything.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import lockfile from 'proper-lockfile';

/** The lock's name inside the target folder. */
export const LOCK_NAME = '.provision.lock';

/**
 * Waits for the folder lock and resolves with its release function. `onCompromised` runs if the lock
 * is lost while held (its heartbeat could not be written, or another process took it over).
 */
export async function acquireLock(
  target: string,
  options: { staleMs: number; log: Logger; signal: AbortSignal; onCompromised: (err: Error) => void },
): Promise<() => Promise<void>> {
  const pollMs = Math.min(1000, options.staleMs / 4);
  let waited = false;
  for (;;) {
    try {
      const release = await lockfile.lock(target, {
        lockfilePath: join(target, LOCK_NAME),
        realpath: false,
        stale: options.staleMs,
        retries: 0,
        onCompromised: options.onCompromised,
      });
      if (waited) options.log.info('Acquired the folder lock');
      return release;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ELOCKED') throw err;
      if (!waited)
        options.log.info(
          { lock: join(target, LOCK_NAME) },
          'Waiting for another provisioner that holds the lock',
        );
      waited = true;
      try {
        await sleep(pollMs, undefined, { signal: options.signal });
      } catch (sleepErr) {
        throw options.signal.reason ?? sleepErr;
      }
    }
  }
}
