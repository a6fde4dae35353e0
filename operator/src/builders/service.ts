/** The ClusterIP Service in front of the sidecars: the private endpoint and the Ingress backend. */
import type { V1Service } from '@kubernetes/client-node';
import { childMetadata, selectorLabels } from './labels.ts';
import { workloadName } from './names.ts';
import { HTTP_PORT, NOAUTH_PORT, type PortName, portPlan } from './ports.ts';
import type { BuildInput } from './types.ts';

/** Service port of each sidecar port: 80 for the keyed port, 8081 for the keyless one. */
export const SERVICE_PORTS: Readonly<Record<PortName, number>> = {
  [HTTP_PORT.name]: 80,
  [NOAUTH_PORT.name]: NOAUTH_PORT.number,
};

/**
 * The Service of `cr`: port 80 (`http`) to the sidecar's main port, plus 8081 (`http-noauth`) to
 * its keyless port when the endpoints disagree on disableAuth. It exists for a public-only
 * deployment too, since the Ingress routes through it.
 */
export function service(input: BuildInput): V1Service {
  const { cr } = input;
  const ports = portPlan(cr);
  const names: PortName[] = ports.noauthPort ? [HTTP_PORT.name, NOAUTH_PORT.name] : [HTTP_PORT.name];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(cr, workloadName(cr), 'endpoint'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cr),
      ports: names.map((name) => ({ name, port: SERVICE_PORTS[name], protocol: 'TCP', targetPort: name })),
    },
  } as V1Service;
}
