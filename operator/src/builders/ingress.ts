/**
 * The public endpoint: an Ingress with host `<uuid>.<baseDomain>` and TLS, its body-size limit and
 * timeouts raised for the common controllers (else the ingress answers 413 or cuts a long stream
 * before the sidecar sees it), and the endpoint URLs shown in status.
 */
import type { V1Ingress } from '@kubernetes/client-node';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import type { OperatorConfig } from '../config.ts';
import { childMetadata } from './labels.ts';
import { tlsSecretName, workloadName } from './names.ts';
import { portPlan } from './ports.ts';
import { SERVICE_PORTS } from './service.ts';
import type { BuildInput } from './types.ts';

/** Host of the public endpoint, or undefined when the config has no baseDomain. */
export function publicHost(config: OperatorConfig, uuid: string): string | undefined {
  return config.baseDomain ? `${uuid}.${config.baseDomain}` : undefined;
}

/**
 * The endpoint URLs for status: `public` (`https://<uuid>.<baseDomain>/v1`) when the CR asks for a
 * public endpoint and a baseDomain is configured; `private` (the Service's cluster DNS name) when
 * it asks for a private one.
 */
export function endpointUrls(
  cr: PixtralDeployment,
  config: OperatorConfig,
  uuid: string,
): { public?: string; private?: string } {
  const ports = portPlan(cr);
  const host = publicHost(config, uuid);
  const urls: { public?: string; private?: string } = {};
  if (ports.public && host) urls.public = `https://${host}/v1`;
  if (ports.private) {
    const port = SERVICE_PORTS[ports.private];
    const dns = `${workloadName(cr)}.${cr.metadata.namespace}.svc.${config.clusterDomain}`;
    urls.private = `http://${dns}${port === 80 ? '' : `:${port}`}/v1`;
  }
  return urls;
}

/** A byte count in nginx's size syntax (`m` is MiB there), exact. */
function nginxSize(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes % MiB === 0) return `${bytes / MiB}m`;
  if (bytes % 1024 === 0) return `${bytes / 1024}k`;
  return String(bytes);
}

/**
 * Controller annotations for large bodies and long streams. ingress-nginx and HAProxy Ingress
 * (haproxy-ingress.github.io) take them as annotations. Traefik needs none (test/realnode shows
 * it): no body limit and no response timeout by default, event streams flushed at once; its only
 * default bound, the entry point's 60 s readTimeout for reading the request, is static
 * configuration of the controller, not an Ingress annotation.
 */
export function ingressAnnotations(config: OperatorConfig): Record<string, string> {
  const size = nginxSize(config.sidecar.maxBodyBytes);
  const timeout = String(config.ingress.timeoutSeconds);
  const tls = config.ingress.tls;
  return {
    ...config.ingress.annotations,
    'haproxy-ingress.github.io/proxy-body-size': size,
    'haproxy-ingress.github.io/timeout-client': `${timeout}s`,
    'haproxy-ingress.github.io/timeout-server': `${timeout}s`,
    'nginx.ingress.kubernetes.io/proxy-body-size': size,
    // Server-sent events must reach the client token by token, not when a buffer fills.
    'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
    'nginx.ingress.kubernetes.io/proxy-read-timeout': timeout,
    'nginx.ingress.kubernetes.io/proxy-send-timeout': timeout,
    ...(tls && 'certManagerIssuer' in tls
      ? {
          [tls.certManagerIssuer.kind === 'ClusterIssuer'
            ? 'cert-manager.io/cluster-issuer'
            : 'cert-manager.io/issuer']: tls.certManagerIssuer.name,
        }
      : {}),
  };
}

/**
 * The Ingress of `cr`'s public endpoint, or undefined when the CR has none or the config has no
 * baseDomain (the reconciler reports the latter as InvalidConfiguration). TLS uses a per-CR Secret
 * that cert-manager fills (`<name>-tls`) or the configured wildcard Secret.
 */
export function ingress(input: BuildInput, uuid: string): V1Ingress | undefined {
  const { cr, config } = input;
  const ports = portPlan(cr);
  const host = publicHost(config, uuid);
  if (!ports.public || !host) return undefined;
  const tls = config.ingress.tls;
  const secretName = tls
    ? 'certManagerIssuer' in tls
      ? tlsSecretName(cr)
      : tls.wildcardSecretName
    : undefined;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: childMetadata(cr, workloadName(cr), 'endpoint', ingressAnnotations(config)),
    spec: {
      ...(config.ingress.className ? { ingressClassName: config.ingress.className } : {}),
      ...(secretName ? { tls: [{ hosts: [host], secretName }] } : {}),
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: workloadName(cr), port: { name: ports.public } } },
              },
            ],
          },
        },
      ],
    },
  } as V1Ingress;
}
