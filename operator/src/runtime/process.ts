/**
 * Process wiring: SIGTERM/SIGINT start a graceful drain; losing the lease exits non-zero so
 * the pod restarts clean (controller-runtime does the same).
 */
import type { Manager } from './manager.ts';
import { LeadershipLostError } from './manager.ts';

/** Runs `manager` until SIGTERM or SIGINT; resolves the exit code (0 clean, 1 lease lost or failure). */
export async function runUntilSignalled(manager: Manager): Promise<number> {
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    manager.log.info({ signal: sig }, 'Received signal, shutting down');
    stop.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await manager.start(stop.signal);
    return 0;
  } catch (err) {
    if (err instanceof LeadershipLostError) manager.log.error('Lost leadership, exiting');
    else manager.log.fatal({ err }, 'Manager failed');
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
