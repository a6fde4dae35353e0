/**
 * Process wiring: SIGTERM/SIGINT start a graceful drain; losing the lease exits non-zero so
 * the pod restarts clean (controller-runtime does the same).
 */
import type { Logger } from 'pino';
import type { Manager } from './manager.ts';
import { LeadershipLostError } from './manager.ts';

/** An abort signal raised by the first SIGTERM or SIGINT. */
export interface ShutdownSignal {
  signal: AbortSignal;
  /** Removes the signal handlers. */
  dispose(): void;
}

/**
 * Aborts on the first SIGTERM or SIGINT and keeps handling the later ones: `npm start` forwards
 * the terminal's Ctrl-C to a process that the terminal already signalled, so one press arrives
 * twice, and a signal nobody handles would kill the process in the middle of its drain.
 */
export function abortOnSignals(log: Logger): ShutdownSignal {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      log.debug({ signal }, 'Already shutting down');
      return;
    }
    log.info({ signal }, 'Received signal, shutting down');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    signal: stop.signal,
    dispose: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

/** Runs `manager` until `signal` aborts; resolves the exit code (0 clean, 1 lease lost or failure). */
export async function runManager(manager: Manager, signal: AbortSignal): Promise<number> {
  try {
    await manager.start(signal);
    return 0;
  } catch (err) {
    if (err instanceof LeadershipLostError) manager.log.error('Lost leadership, exiting');
    else manager.log.fatal({ err }, 'Manager failed');
    return 1;
  }
}

/** Runs `manager` until SIGTERM or SIGINT; resolves the exit code (0 clean, 1 lease lost or failure). */
export async function runUntilSignalled(manager: Manager): Promise<number> {
  const shutdown = abortOnSignals(manager.log);
  try {
    return await runManager(manager, shutdown.signal);
  } finally {
    shutdown.dispose();
  }
}
