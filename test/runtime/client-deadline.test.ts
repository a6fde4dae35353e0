/**
 * The API client's deadline: a request the server never answers is refused once the deadline
 * passes, and a caller's abort ends it at once.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError } from '../../operator/src/runtime/errors.ts';
import { KubeClient } from '../../operator/src/runtime/index.ts';

const ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
let server: Server;
const held: ServerResponse[] = [];

function clientFor(requestTimeoutMs: number): KubeClient {
  const kubeConfig = new KubeConfig();
  const { port } = server.address() as AddressInfo;
  kubeConfig.loadFromOptions({
    // client-node allows plain HTTP only with skipTLSVerify.
    clusters: [{ name: 'local', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'nobody' }],
    currentContext: 'local',
  });
  return new KubeClient({ kubeConfig, requestTimeoutMs });
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.includes('/slow')) {
      held.push(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fast' } }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

afterAll(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  server.close();
});

describe('KubeClient deadline', () => {
  it('refuses a request the server never answers once the deadline passes', async () => {
    const error = await clientFor(200)
      .get(ConfigMap, { namespace: 'ns', name: 'slow' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({ code: 0, reason: 'NoResponse' });
  });

  it("ends a request at once when the caller's signal aborts", async () => {
    const caller = new AbortController();
    const pending = clientFor(60_000)
      .get(ConfigMap, { namespace: 'ns', name: 'slow' }, caller.signal)
      .catch((e: unknown) => e);
    setTimeout(() => caller.abort(), 50);
    expect(await pending).toMatchObject({ code: 0, reason: 'NoResponse' });
  });
});
