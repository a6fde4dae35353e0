import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

/** Creates a namespace with a random suffix (one per test keeps tests independent) and returns its name. */
export async function freshNamespace(kc: KubeConfig, prefix = 'test'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`.slice(0, 63);
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels: { 'pixtral.dev/test': 'true' } } } });
  return name;
}
