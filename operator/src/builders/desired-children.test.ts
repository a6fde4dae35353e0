import { describe, expect, it } from 'vitest';
import {
  anOperatorConfig,
  aPixtralDeployment,
  FIXTURE_UID,
} from '../../../test/fixtures/pixtral-deployment.ts';
import { desiredChildren, generatedApiKeysSecret } from './index.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('desiredChildren', () => {
  it('builds every child an autoscaled public deployment needs', () => {
    const cr = aPixtralDeployment({ minSize: 1, maxSize: 3, endpoints: { public: {}, private: {} } });
    const children = desiredChildren({
      cr,
      config: anOperatorConfig(),
      userApiKeys: { main: b64('k') },
    });
    expect(children.deployment.spec).not.toHaveProperty('replicas');
    expect(children.scaledObject?.kind).toBe('ScaledObject');
    expect(children.ingress?.kind).toBe('Ingress');
    expect(children.nodePool).toBeUndefined();
    expect(children.endpoints.public).toBe(`https://${FIXTURE_UID}.inference.example.com/v1`);
    expect(children.problems).toEqual([]);
  });

  it('hashes the generated key for the sidecars', () => {
    const cr = aPixtralDeployment();
    const generated = generatedApiKeysSecret(cr, 'pxd_new');
    expect(generated.data).toEqual({ 'api-key': b64('pxd_new') });
    const children = desiredChildren({ cr, config: anOperatorConfig(), userApiKeys: generated.data });
    const hashes = Buffer.from(children.apiKeyHashesSecret.data!.hashes!, 'base64').toString();
    expect(hashes).toMatch(/^api-key:[0-9a-f]{64}\n$/);
  });

  it('reports a public endpoint it cannot serve without a base domain', () => {
    const children = desiredChildren({
      cr: aPixtralDeployment({ endpoints: { public: {} } }),
      config: anOperatorConfig({ baseDomain: undefined }),
    });
    expect(children.ingress).toBeUndefined();
    expect(children.problems).toEqual([
      { reason: 'InvalidConfiguration', message: expect.stringContaining('baseDomain') },
    ]);
  });

  it('is deterministic: the same input twice gives deep-equal output', () => {
    const input = () => ({
      cr: aPixtralDeployment({
        nodeType: 'H100-2',
        minSize: 0,
        maxSize: 2,
        endpoints: { public: {}, private: {} },
      }),
      config: anOperatorConfig({
        nodePools: { provider: 'karpenter', nodeClassRef: { group: 'g', kind: 'K', name: 'n' } },
      }),
      userApiKeys: { b: b64('2'), a: b64('1') },
    });
    const first = desiredChildren(input());
    expect(desiredChildren(input())).toEqual(first);
    expect(JSON.stringify(desiredChildren(input()))).toBe(JSON.stringify(first));
  });
});
