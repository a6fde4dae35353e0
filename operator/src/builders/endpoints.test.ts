import { describe, expect, it } from 'vitest';
import {
  anOperatorConfig,
  aPixtralDeployment,
  FIXTURE_UID,
} from '../../../test/fixtures/pixtral-deployment.ts';
import { endpointUrls, ingress } from './ingress.ts';
import { service } from './service.ts';

const UUID = FIXTURE_UID;

describe('Service', () => {
  it('sends port 80 to the sidecar http port, selecting the serving pods', () => {
    const svc = service({ cr: aPixtralDeployment(), config: anOperatorConfig() });
    expect(svc.metadata!.name).toBe('vision-pixtral');
    expect(svc.spec).toEqual({
      type: 'ClusterIP',
      selector: {
        'app.kubernetes.io/component': 'server',
        'app.kubernetes.io/instance': 'vision',
        'app.kubernetes.io/name': 'pixtral',
      },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }],
    });
  });

  it('adds the keyless port when the endpoints disagree on disableAuth', () => {
    const cr = aPixtralDeployment({ endpoints: { public: {}, private: { disableAuth: true } } });
    expect(service({ cr, config: anOperatorConfig() }).spec!.ports).toEqual([
      { name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' },
      { name: 'http-noauth', port: 8081, protocol: 'TCP', targetPort: 'http-noauth' },
    ]);
  });
});

describe('Ingress', () => {
  const publicCr = aPixtralDeployment({ endpoints: { public: {} } });

  it('serves https://<uuid>.<baseDomain> with a cert-manager certificate and the class', () => {
    const ing = ingress({ cr: publicCr, config: anOperatorConfig() }, UUID)!;
    expect(ing.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ hosts: [`${UUID}.inference.example.com`], secretName: 'vision-tls' }],
      rules: [
        {
          host: `${UUID}.inference.example.com`,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'vision-pixtral', port: { name: 'http' } } },
              },
            ],
          },
        },
      ],
    });
    expect(ing.metadata!.annotations!['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
  });

  it('raises the body limit to the sidecar maximum and turns response buffering off', () => {
    const annotations = ingress({ cr: publicCr, config: anOperatorConfig() }, UUID)!.metadata!.annotations!;
    expect(annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-body-size': '64m',
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'haproxy-ingress.github.io/proxy-body-size': '64m',
    });
    const odd = anOperatorConfig({ sidecar: { maxBodyBytes: 100_000 } });
    expect(ingress({ cr: publicCr, config: odd }, UUID)!.metadata!.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-body-size': '100000',
    });
  });

  it('uses the wildcard Secret or an Issuer as configured', () => {
    const wildcard = anOperatorConfig({ ingress: { tls: { wildcardSecretName: 'star-tls' } } });
    const ing = ingress({ cr: publicCr, config: wildcard }, UUID)!;
    expect(ing.spec!.tls).toEqual([{ hosts: [`${UUID}.inference.example.com`], secretName: 'star-tls' }]);
    expect(ing.spec!.ingressClassName).toBeUndefined();
    expect(Object.keys(ing.metadata!.annotations!).some((k) => k.startsWith('cert-manager.io/'))).toBe(false);
    const issuer = anOperatorConfig({
      ingress: { tls: { certManagerIssuer: { kind: 'Issuer', name: 'team' } } },
    });
    expect(ingress({ cr: publicCr, config: issuer }, UUID)!.metadata!.annotations).toMatchObject({
      'cert-manager.io/issuer': 'team',
    });
  });

  it('routes a keyless public endpoint to the keyless port', () => {
    const cr = aPixtralDeployment({ endpoints: { public: { disableAuth: true }, private: {} } });
    const backend = ingress({ cr, config: anOperatorConfig() }, UUID)!.spec!.rules![0]!.http!.paths[0]!
      .backend;
    expect(backend.service!.port).toEqual({ name: 'http-noauth' });
  });

  it('is absent without a public endpoint or without a base domain', () => {
    expect(ingress({ cr: aPixtralDeployment(), config: anOperatorConfig() }, UUID)).toBeUndefined();
    const noDomain = anOperatorConfig({ baseDomain: undefined });
    expect(ingress({ cr: publicCr, config: noDomain }, UUID)).toBeUndefined();
  });
});

describe('endpointUrls', () => {
  it('gives the public URL from the uuid and the private one from the Service DNS name', () => {
    const cr = aPixtralDeployment({ endpoints: { public: {}, private: {} } });
    expect(endpointUrls(cr, anOperatorConfig(), UUID)).toEqual({
      public: `https://${UUID}.inference.example.com/v1`,
      private: 'http://vision-pixtral.team-a.svc.cluster.local/v1',
    });
  });

  it('points a keyless private endpoint at the keyless port, and lists only endpoints asked for', () => {
    const split = aPixtralDeployment({ endpoints: { public: {}, private: { disableAuth: true } } });
    expect(endpointUrls(split, anOperatorConfig(), UUID).private).toBe(
      'http://vision-pixtral.team-a.svc.cluster.local:8081/v1',
    );
    expect(endpointUrls(aPixtralDeployment(), anOperatorConfig(), UUID)).toEqual({
      private: 'http://vision-pixtral.team-a.svc.cluster.local/v1',
    });
  });
});
