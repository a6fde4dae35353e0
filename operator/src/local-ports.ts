/**
 * Ports of local mode: checked before anything starts (a busy port found after the control plane
 * came up would waste that minute and leave a half-started run to clean up), and free ports for
 * the processes that serve each deployment on 127.0.0.1.
 */
import { createServer } from 'node:net';

/** A port the operator is about to bind, and how the user picks another. */
export interface PortClaim {
  port: number;
  host: string;
  /** What listens there, e.g. "the health and metrics server". */
  what: string;
  /** How to choose another port, e.g. "pass --health-port <port> (PXD_HEALTH_PORT)". */
  change: string;
}

/** A port another process holds; `code` is stable, the message says what to change. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  readonly code = 'PortInUse';
  readonly claim: PortClaim;
  constructor(claim: PortClaim, cause: Error) {
    super(
      `Port ${claim.port} on ${claim.host} (${claim.what}) is not available: ${cause.message}. Stop the process using it, or ${claim.change}`,
      { cause },
    );
    this.claim = claim;
  }
}

/** Binds and releases `host:port`; resolves the bind error, or undefined when the port is free. */
function tryBind(port: number, host: string): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve(error));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Throws PortInUseError for the first claim (port 0 = any, always free) that cannot be bound now. */
export async function assertPortsFree(claims: readonly PortClaim[]): Promise<void> {
  for (const claim of claims) {
    if (claim.port === 0) continue;
    const error = await tryBind(claim.port, claim.host);
    if (error) throw new PortInUseError(claim, error);
  }
}

/** A port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
