/**
 * Traefik as users run it, here as a host process beside a real node: its Kubernetes Ingress
 * provider reads the cluster with a ServiceAccount token bound to the read-only rights Traefik
 * documents, an IngressClass of its own selects the Ingresses it serves, one HTTPS entry point
 * listens on 127.0.0.1, and a wildcard certificate for `*.<baseDomain>` (made with the harness's
 * CA) sits in the Secret the operator's Ingresses name. Clients reach
 * `https://<host>.<baseDomain>:<port>` through `agent`, which resolves every name to 127.0.0.1
 * (no /etc/hosts edit) and trusts the test CA, so SNI and Host come from the URL.
 */
import { execFileSync } from 'node:child_process';
import type { LookupOptions } from 'node:dns';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { Agent, fetch as undiciFetch } from 'undici';
import { eventually } from '../harness/index.ts';
import { issueServerCertificate } from '../harness/pki.ts';
import { Component, freePort } from '../harness/processes.ts';
import type { RealNodeCluster } from '../harness/real-node.ts';
import { ROOT } from '../image/docker.ts';

export interface TraefikOptions {
  /** The IngressClass Traefik serves (`traefik.io/ingress-controller`); created here. */
  ingressClass: string;
  baseDomain: string;
  /** The wildcard certificate's Secret, created in each of `namespaces`. */
  wildcardSecret: string;
  namespaces: string[];
}

export interface Traefik {
  /** Resolves every name to 127.0.0.1 and trusts the test CA. */
  agent: Agent;
  /** `https://<host>.<baseDomain>:<port>/v1`. */
  url(host: string): string;
  /** Waits until Traefik routes `url` to the sidecar (its 401 without a key, not Traefik's 404). */
  waitForRoute(url: string): Promise<void>;
  stop(): Promise<void>;
}

/** The read-only rights Traefik's Ingress provider documents, no more, and its IngressClass. */
const rbac = (ingressClass: string) => `
apiVersion: v1
kind: Namespace
metadata: {name: traefik}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: traefik, namespace: traefik}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: traefik-ingress}
rules:
- apiGroups: [""]
  resources: [services, secrets, nodes]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
- apiGroups: [networking.k8s.io]
  resources: [ingresses, ingressclasses]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [ingresses/status]
  verbs: [update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: traefik-ingress}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: traefik-ingress}
subjects:
- {kind: ServiceAccount, name: traefik, namespace: traefik}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: ${ingressClass}}
spec: {controller: traefik.io/ingress-controller}
`;

/** Starts Traefik against `cluster` (its arguments name the node's folder, so teardown ends it too). */
export async function startTraefik(cluster: RealNodeCluster, options: TraefikOptions): Promise<Traefik> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const pkiDir = join(cluster.node.dir, 'traefik-pki');
  mkdirSync(pkiDir, { recursive: true });
  copyFileSync(cluster.pki.caCert, join(pkiDir, 'ca.crt'));
  copyFileSync(cluster.pki.caKey, join(pkiDir, 'ca.key'));
  const wildcard = await issueServerCertificate(pkiDir, 'wildcard', [`*.${options.baseDomain}`]);
  for (const namespace of options.namespaces) {
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: options.wildcardSecret },
        type: 'kubernetes.io/tls',
        data: {
          'tls.crt': readFileSync(wildcard.cert).toString('base64'),
          'tls.key': readFileSync(wildcard.key).toString('base64'),
        },
      },
    });
  }
  const applied = await cluster.kubectl(['apply', '-f', '-'], { input: rbac(options.ingressClass) });
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
  const token = await cluster.kubectl(['create', 'token', 'traefik', '-n', 'traefik', '--duration=2h']);
  if (token.code !== 0) throw new Error(`kubectl create token failed: ${token.stderr}`);
  const tokenFile = join(pkiDir, 'token');
  writeFileSync(tokenFile, token.stdout.trim(), { mode: 0o600 });

  const folder = execFileSync('bash', [join(ROOT, 'test/bin/ensure-k8s-bins.sh'), 'ingress'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .at(-1)!;
  const port = await freePort();
  mkdirSync(join(cluster.node.dir, 'logs'), { recursive: true });
  const traefik = new Component(cluster.node.dir, 'traefik', join(folder, 'traefik'), [
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
    '--log.level=INFO',
    `--entryPoints.websecure.address=127.0.0.1:${port}`,
    '--entryPoints.websecure.http.tls=true',
    '--providers.kubernetesIngress=true',
    `--providers.kubernetesIngress.endpoint=${cluster.apiServerUrl}`,
    `--providers.kubernetesIngress.token=${readFileSync(tokenFile, 'utf8')}`,
    `--providers.kubernetesIngress.certAuthFilePath=${join(pkiDir, 'ca.crt')}`,
    `--providers.kubernetesIngress.ingressClass=${options.ingressClass}`,
  ]);
  traefik.start();
  const agent = new Agent({
    connect: {
      ca: readFileSync(cluster.pki.caCert),
      lookup: ((_hostname: string, lookup: LookupOptions, callback: (...args: unknown[]) => void) =>
        lookup.all
          ? callback(null, [{ address: '127.0.0.1', family: 4 }])
          : callback(null, '127.0.0.1', 4)) as unknown as LookupFunction,
    },
  });
  return {
    agent,
    url: (host) => `https://${host}.${options.baseDomain}:${port}/v1`,
    waitForRoute: (url) =>
      // Traefik serves its own 404 until the provider has read the Ingress and its endpoints.
      eventually(
        async () => {
          traefik.assertRunning();
          const answer = await undiciFetch(`${url}/models`, { dispatcher: agent });
          if (answer.status !== 401)
            throw new Error(`Traefik answers ${answer.status}, not the sidecar's 401 yet`);
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      ),
    stop: async () => {
      await traefik.stop();
      await agent.close();
    },
  };
}
