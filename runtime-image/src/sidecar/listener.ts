/**
 * One HTTP listener of the sidecar: a node:http server with the configured client timeouts and
 * a terse answer to malformed requests. The sidecar opens one per port (SIDECAR_PORT and, when
 * set, SIDECAR_NOAUTH_PORT); both share the same request handler and state.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SidecarConfig } from './config.ts';

/** A bound listener and the port it got (useful when the configured port was 0). */
export interface Listener {
  server: Server;
  port: number;
}

/** Which port to open; `envName` names the setting in a bind error. */
export interface ListenOptions {
  port: number;
  envName: 'SIDECAR_PORT' | 'SIDECAR_NOAUTH_PORT';
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Creates a server with the client timeouts of `config` and binds it on `config.host`. Rejects
 * with an Error naming the setting and the address when the port cannot be bound (in use, no
 * permission), so a clash with another process reads as a configuration problem.
 */
export async function listen(config: SidecarConfig, options: ListenOptions): Promise<Listener> {
  // Timeouts go in the constructor: Node checks headersTimeout <= requestTimeout only there.
  const server = createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // The default 30 s check interval would let a Slowloris client hold its socket for up to
      // headersTimeout + 30 s.
      connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs),
    },
    options.onRequest,
  );
  server.setTimeout(config.idleTimeoutMs);
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void => {
      reject(
        new Error(
          `cannot listen on ${options.envName}=${options.port} at ${config.host}: ${error.code ?? error.message}`,
          { cause: error },
        ),
      );
    };
    server.once('error', fail);
    server.listen(options.port, config.host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
