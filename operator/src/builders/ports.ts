/**
 * Which sidecar ports serve which endpoint. The sidecar has one keyed port (`http`, 8080); when
 * the public and private endpoints disagree on `disableAuth`, it also opens `http-noauth` (8081,
 * SIDECAR_NOAUTH_PORT) without keys, and the endpoint that asked for no auth is routed there.
 */
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';

/** Port name and number of the sidecar's main port (keys required unless DISABLE_AUTH). */
export const HTTP_PORT = { name: 'http', number: 8080 } as const;
/** Port name and number of the sidecar's keyless port, present only when the endpoints disagree. */
export const NOAUTH_PORT = { name: 'http-noauth', number: 8081 } as const;
/** vLLM's port on the pod's loopback. */
export const VLLM_PORT = 8000;

/** A sidecar port name. */
export type PortName = typeof HTTP_PORT.name | typeof NOAUTH_PORT.name;

/** How the sidecar's ports serve the endpoints of one CR. */
export interface PortPlan {
  /** DISABLE_AUTH of the main port. */
  disableAuth: boolean;
  /** Whether the sidecar opens the keyless second port. */
  noauthPort: boolean;
  /** The port the Ingress routes to, when there is a public endpoint. */
  public?: PortName;
  /** The port in-cluster clients use, when there is a private endpoint. */
  private?: PortName;
}

/** The port plan of `cr` (assumes at least one endpoint, which the CRD enforces). */
export function portPlan(cr: PixtralDeployment): PortPlan {
  const { public: pub, private: priv } = cr.spec.endpoints;
  if (pub && priv && pub.disableAuth !== priv.disableAuth) {
    return {
      disableAuth: false,
      noauthPort: true,
      public: pub.disableAuth ? NOAUTH_PORT.name : HTTP_PORT.name,
      private: priv.disableAuth ? NOAUTH_PORT.name : HTTP_PORT.name,
    };
  }
  return {
    disableAuth: (pub ?? priv)?.disableAuth ?? false,
    noauthPort: false,
    ...(pub ? { public: HTTP_PORT.name } : {}),
    ...(priv ? { private: HTTP_PORT.name } : {}),
  };
}
