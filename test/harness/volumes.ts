import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig, StorageV1Api } from '@kubernetes/client-node';

/** The default StorageClass of the test cluster: static volumes, bound as soon as a claim exists. */
export const TEST_STORAGE_CLASS = 'standard';

/**
 * The test cluster has no storage provisioner, so claims bind only to volumes that exist. This
 * creates the default StorageClass (once) and `count` static hostPath PersistentVolumes of `size`
 * in it; kube-controller-manager's binder binds claims to them. Returns the volume names.
 */
export async function createVolumes(
  kc: KubeConfig,
  count: number,
  options: { size?: string } = {},
): Promise<string[]> {
  const storage = kc.makeApiClient(StorageV1Api);
  await storage
    .createStorageClass({
      body: {
        metadata: {
          name: TEST_STORAGE_CLASS,
          annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
        },
        provisioner: 'kubernetes.io/no-provisioner',
        volumeBindingMode: 'Immediate',
        reclaimPolicy: 'Delete',
      },
    })
    .catch((error: { code?: number }) => {
      if (error.code !== 409) throw error;
    });
  const core = kc.makeApiClient(CoreV1Api);
  const names = Array.from({ length: count }, () => `pv-${randomBytes(4).toString('hex')}`);
  await Promise.all(
    names.map((name) =>
      core.createPersistentVolume({
        body: {
          metadata: { name, labels: { 'pixtral.dev/test-volume': 'true' } },
          spec: {
            capacity: { storage: options.size ?? '200Gi' },
            accessModes: ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany'],
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: TEST_STORAGE_CLASS,
            hostPath: { path: `/tmp/pixtral-test-volumes/${name}` },
          },
        },
      }),
    ),
  );
  return names;
}
