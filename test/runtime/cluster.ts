/** Helpers shared by the runtime's integration tests: an operator kubeconfig through a relay, admin calls. */

import { readFile } from 'node:fs/promises';
import { CoreV1Api, KubeConfig, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import type { ControlPlane } from '../harness/index.ts';
import { TOY_FINALIZER, toyChildName } from './toy.ts';

/** A copy of the admin kubeconfig whose server is `127.0.0.1:<port>` (a relay in front of the API server). */
export function kubeConfigVia(cp: ControlPlane, port: number): KubeConfig {
  const admin = cp.kubeConfig();
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, server: `https://127.0.0.1:${port}`, tlsServerName: '127.0.0.1' }],
    users: admin.users,
    contexts: admin.contexts,
    currentContext: admin.getCurrentContext(),
  });
  return kc;
}

/** Admin operations on toy roots and children. */
export class Toys {
  readonly core: CoreV1Api;

  constructor(cp: ControlPlane) {
    this.core = cp.kubeConfig().makeApiClient(CoreV1Api);
  }

  createRoot(namespace: string, name: string, value: string): Promise<V1ConfigMap> {
    return this.core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name, labels: { toy: 'true' } }, data: { value } },
    });
  }

  async setValue(namespace: string, name: string, value: string): Promise<void> {
    const cm = await this.core.readNamespacedConfigMap({ namespace, name });
    await this.core.replaceNamespacedConfigMap({
      namespace,
      name,
      body: { ...cm, data: { ...cm.data, value } },
    });
  }

  async child(namespace: string, root: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name: toyChildName(root) });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  async root(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ namespace, name });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  /** Throws unless the child of `root` holds `value` and is controlled by the root. */
  async expectConverged(namespace: string, root: string, value: string): Promise<void> {
    const [cm, secret] = await Promise.all([this.root(namespace, root), this.child(namespace, root)]);
    if (!cm) throw new Error(`root ${root} missing`);
    if (!cm.metadata?.finalizers?.includes(TOY_FINALIZER))
      throw new Error(`root ${root} has no finalizer yet`);
    if (!secret) throw new Error(`child of ${root} missing`);
    const got = Buffer.from(secret.data?.value ?? '', 'base64').toString();
    if (got !== value)
      throw new Error(`child of ${root} holds ${JSON.stringify(got)}, want ${JSON.stringify(value)}`);
    const owner = secret.metadata?.ownerReferences?.find((r) => r.controller);
    if (owner?.uid !== cm.metadata?.uid) throw new Error(`child of ${root} is not controlled by it`);
  }
}

/** One audit-log record (level Metadata). */
export interface AuditRecord {
  verb: string;
  userAgent?: string;
  stage: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
}

/** Audit records written after byte `offset`, at stage ResponseComplete. */
export async function auditSince(path: string, offset: number): Promise<AuditRecord[]> {
  const text = (await readFile(path)).subarray(offset).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AuditRecord)
    .filter((r) => r.stage === 'ResponseComplete');
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
