/**
 * The sidecar as the operator runs it: for every mix of endpoint `disableAuth` settings, the
 * sidecar environment comes from the real Deployment builder, and each endpoint is followed
 * through the real Ingress and Service builders to the container port it reaches. A request
 * without a key on that port must get 200 exactly when the endpoint asked for no auth.
 */
import type { V1Container } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { PixtralDeploymentInput } from '../../operator/src/api/pixtral-deployment.ts';
import { deployment } from '../../operator/src/builders/deployment.ts';
import { endpointUrls, ingress } from '../../operator/src/builders/ingress.ts';
import { service } from '../../operator/src/builders/service.ts';
import { loadConfig } from '../../runtime-image/src/sidecar/config.ts';
import { anOperatorConfig, aPixtralDeployment, FIXTURE_UID } from '../fixtures/pixtral-deployment.ts';
import { chatBody, type Rig, startRig } from './harness.ts';

type Endpoints = NonNullable<PixtralDeploymentInput['spec']['endpoints']>;

/** The built pieces of one CR that decide which sidecar port each endpoint reaches. */
function built(endpoints: Endpoints) {
  const input = { cr: aPixtralDeployment({ endpoints }), config: anOperatorConfig() };
  const pod = deployment(input).spec?.template.spec;
  const sidecar = pod?.containers.find((c) => c.name === 'sidecar') as V1Container;
  const env = Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value ?? '']));
  const servicePorts = service(input).spec?.ports ?? [];
  /** Service port (by name or number) → targetPort name → the container's port number. */
  const containerPortOf = (match: (p: { name?: string; port: number }) => boolean): number => {
    const target = servicePorts.find(match)?.targetPort;
    const port = sidecar.ports?.find((p) => p.name === target)?.containerPort;
    if (port === undefined) throw new Error(`no sidecar port behind Service port ${String(target)}`);
    return port;
  };
  const reach: { public?: number; private?: number } = {};
  const backend = ingress(input, FIXTURE_UID)?.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.port;
  if (backend?.name) reach.public = containerPortOf((p) => p.name === backend.name);
  const privateUrl = endpointUrls(input.cr, input.config, FIXTURE_UID).private;
  if (privateUrl) {
    const servicePort = Number(new URL(privateUrl).port || 80);
    reach.private = containerPortOf((p) => p.port === servicePort);
  }
  return { env, reach };
}

describe.each([
  ['public with keys, private open', { public: {}, private: { disableAuth: true } }],
  ['public open, private with keys', { public: { disableAuth: true }, private: {} }],
  ['both with keys', { public: {}, private: {} }],
  ['both open', { public: { disableAuth: true }, private: { disableAuth: true } }],
  ['private only, open', { private: { disableAuth: true } }],
  ['public only, with keys', { public: {} }],
] as [string, Endpoints][])('%s', (_name, endpoints) => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('reaches a port that asks for a key exactly when the endpoint does', async () => {
    const { env, reach } = built(endpoints);
    const config = loadConfig(env);
    // The pod's fixed ports become free loopback ports; the mapping keeps which one is which.
    rig = await startRig({
      config: {
        disableAuth: config.disableAuth,
        maxImagesPerRequest: config.maxImagesPerRequest,
        ...(config.noauthPort === undefined ? {} : { noauthPort: 0 }),
      },
    });
    const urlOf = new Map([[config.port, rig.sidecar.url]]);
    if (config.noauthPort !== undefined) urlOf.set(config.noauthPort, rig.sidecar.noauth?.url as string);
    for (const side of ['public', 'private'] as const) {
      const endpoint = endpoints[side];
      if (endpoint === undefined) {
        expect(reach[side]).toBeUndefined();
        continue;
      }
      const url = urlOf.get(reach[side] as number);
      expect(url, `${side} endpoint reaches a port the sidecar listens on`).toBeDefined();
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chatBody()),
      });
      expect(res.status, `${side} endpoint without a key`).toBe(endpoint.disableAuth ? 200 : 401);
    }
  });
});
