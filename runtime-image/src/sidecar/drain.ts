/**
 * Graceful shutdown. Endpoint removal races SIGTERM (kubernetes/kubernetes#106476), so readiness
 * fails first while requests are still served; then every listener closes, idle keep-alive sockets
 * are reaped, in-flight requests get until the deadline, and streams still open are cut with an
 * SSE error event. `server.close()` alone would wait forever on an open stream.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { cutAtShutdown } from './errors.ts';
import { InFlight } from './in-flight.ts';
import type { Relay } from './relay.ts';

/** Options for one shutdown. */
export interface DrainOptions {
  /** Every listener of the sidecar (main and keyless): they close, and are reaped, together. */
  servers: readonly Server[];
  logger: Logger;
  /** Time to keep serving with readiness failing, in ms (capped at graceMs). */
  delayMs: number;
  /** Time from the start of shutdown after which open requests are cut, in ms. */
  graceMs: number;
  /** Releases what the server holds (watchers, upstream pools) once the listener is closed. */
  release: () => Promise<void>;
}

/** Tracks in-flight requests and runs the shutdown sequence once. */
export class Drain {
  /** True from the first moment of shutdown: /health answers 503. */
  notReady = false;
  /** True once the listeners close: new requests get 503 with `Connection: close`. */
  draining = false;
  /** Upstream exchanges in progress, cut at the deadline. */
  readonly relays = new InFlight<Relay>();
  private inFlight = 0;
  private onIdle: (() => void) | undefined;
  private running: Promise<void> | undefined;

  /** Counts a request in; pair every call with `leave`. */
  enter(): void {
    this.inFlight++;
  }

  /** Counts a request out. */
  leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.onIdle?.();
  }

  /** Runs the shutdown; later calls return the same promise. */
  run(options: DrainOptions): Promise<void> {
    this.running ??= this.sequence(options);
    return this.running;
  }

  private async sequence({ servers, logger, delayMs, graceMs, release }: DrainOptions): Promise<void> {
    const deadline = performance.now() + graceMs;
    this.notReady = true;
    const delay = Math.min(delayMs, graceMs);
    if (delay > 0) {
      logger.info({ delayMs: delay }, 'Failing readiness before draining');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    this.draining = true;
    logger.info({ inFlight: this.inFlight, graceMs }, 'Draining for shutdown');
    const closed = Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    const closeIdle = (): void => {
      for (const server of servers) server.closeIdleConnections();
    };
    // server.close() reaps idle keep-alive sockets only once; sockets that turn idle after a
    // drained request would otherwise linger until keepAliveTimeout.
    const sweep = setInterval(closeIdle, 50);
    closeIdle();
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.relays.size > 0) logger.warn({ cut: this.relays.size }, 'Cut requests at the shutdown deadline');
    const cut = cutAtShutdown();
    for (const relay of this.relays.values()) relay.interrupt(cut);
    clearInterval(sweep);
    for (const server of servers) server.closeAllConnections();
    await closed;
    await release();
    logger.info('Stopped sidecar');
  }
}
