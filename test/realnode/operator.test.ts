/**
 * The product on a real node, as a platform engineer installs it: `helm install` of the chart with
 * the locally built images runs the operator as two real pods under the chart's ServiceAccount and
 * RBAC, one of them the leader; a PixtralDeployment makes the operator claim a real local
 * volume and run the real provisioner container (non-root, fsGroup-owned volume) against a
 * hub-like server listening on the node's bridge address. The hub serves test files, not the
 * 25 GB of the catalog, so the provisioner refuses them, and the refusal must reach the
 * PixtralDeployment's status.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModel } from '../../operator/src/catalog/index.ts';
import { eventually } from '../harness/index.ts';
import { type RealNodeCluster, startRealNodeCluster } from '../harness/real-node.ts';
import { buildImage } from '../image/docker.ts';
import { weightFiles } from '../provisioner/fixtures.ts';
import { type HubServer, startHub } from '../provisioner/hub-server.ts';

const CHART = join(import.meta.dirname, '..', '..', 'charts', 'pixtral-operator');
const TAG = 'realnode';
const pixtral = findModel('mistral/pixtral-12b-2409:bf16')!;
const helmHome = mkdtempSync(join(tmpdir(), 'pxd-realnode-helm-'));
let cluster: RealNodeCluster;
let hub: HubServer;
let volumeDir: string;

function helm(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cluster.bins.helm,
      [...args, '--kubeconfig', cluster.kubeconfigPath],
      {
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(helmHome, 'cache'),
          HELM_CONFIG_HOME: join(helmHome, 'config'),
          HELM_DATA_HOME: join(helmHome, 'data'),
        },
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(`helm ${args.join(' ')} failed:\n${stderr}${stdout}`)) : resolve(stdout),
    );
  });
}

beforeAll(async () => {
  for (const target of ['operator', 'runtime'] as const) await buildImage(target, TAG);
  await buildImage('pause', TAG);
  // One node and no CPU node: the operator and the weights Job, which do not tolerate the GPU
  // taint (they run on CPU nodes in a real cluster), need it off.
  cluster = await startRealNodeCluster({
    images: [`pixtral-operator:${TAG}`, `pixtral-runtime:${TAG}`],
    taint: false,
  });
  // The hub claims the catalog's SHA-256 ids for its stand-in bytes, so the provisioner starts
  // downloading (as the runtime image's user) and refuses the first file whose bytes differ.
  const catalogSha = new Map(pixtral.weights.files.map((f) => [f.path, f.sha256]));
  hub = await startHub(
    (await weightFiles()).map((f) => ({ ...f, claimedSha256: catalogSha.get(f.name) })),
    {
      repo: pixtral.weights.huggingFaceRepo,
      revision: pixtral.weights.revision,
      host: cluster.node.ip,
    },
  );
  // A local PersistentVolume on the node, as a user without a CSI driver would make one.
  volumeDir = join(cluster.node.dir, 'volumes', 'weights');
  mkdirSync(volumeDir, { recursive: true });
  const manifests = `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: real-local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: weights-local}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany]
  storageClassName: real-local
  persistentVolumeReclaimPolicy: Retain
  local: {path: ${volumeDir}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [${cluster.node.name}]}
`;
  const applied = await cluster.kubectl(['apply', '-f', '-'], { input: manifests });
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
  const config = {
    weights: { hubUrl: hub.hubUrl, storageClassName: 'real-local' },
    images: { runtime: `docker.io/library/pixtral-runtime:${TAG}` },
  };
  await helmInstall([
    'pixtral',
    CHART,
    '--namespace',
    'pixtral-system',
    '--create-namespace',
    '--set',
    'image.registry=docker.io',
    '--set',
    'image.repository=library/pixtral-operator',
    '--set',
    `image.tag=${TAG}`,
    '--set-json',
    `config=${JSON.stringify(config)}`,
  ]);
});

/** helm install --wait; on failure the error carries the pods and events, which say why. */
async function helmInstall(args: string[]): Promise<void> {
  try {
    await helm(['install', ...args, '--wait', '--timeout', '3m']);
  } catch (error) {
    const pods = await cluster.kubectl(['get', 'pods', '-A', '-o', 'wide']);
    const events = await cluster.kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']);
    throw new Error(
      `${(error as Error).message}\n${pods.stdout}\n${events.stdout.split('\n').slice(-25).join('\n')}`,
    );
  }
}

afterAll(async () => {
  await hub?.close();
  await cluster?.stop();
  rmSync(helmHome, { recursive: true, force: true });
});

describe('the product on a real node', () => {
  it('runs the operator as two real pods under the chart, one of them the leader', async () => {
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const pods = (await core.listNamespacedPod({ namespace: 'pixtral-system' })).items;
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toBe(cluster.node.name);
      expect(pod.spec?.serviceAccountName).toMatch(/pixtral-operator/);
      expect(pod.status?.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\//);
      expect(pod.status?.containerStatuses?.[0]?.ready).toBe(true);
    }
    const leases = cluster.kubeConfig().makeApiClient(CoordinationV1Api);
    const holder = await eventually(async () => {
      const lease = (await leases.listNamespacedLease({ namespace: 'pixtral-system' })).items.find((l) =>
        pods.some((p) => p.metadata?.name && l.spec?.holderIdentity?.includes(p.metadata.name)),
      );
      if (!lease) throw new Error('no Lease held by an operator pod yet');
      return lease.spec?.holderIdentity;
    });
    process.stderr.write(
      `[realnode e2e] operator pods ${pods.map((p) => p.metadata?.name).join(', ')}; leader ${holder}\n`,
    );
  });

  it('runs the real provisioner as non-root on a real volume against the hub on the bridge, and reports its refusal', async () => {
    const ns = 'team-a';
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    await objects.createNamespacedCustomObject({
      group: 'inference.pixtral.dev',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'pixtraldeployments',
      body: {
        apiVersion: 'inference.pixtral.dev/v1alpha1',
        kind: 'PixtralDeployment',
        metadata: { name: 'vision', namespace: ns },
        spec: { model: pixtral.name, nodeType: 'H100', minSize: 1, maxSize: 1, endpoints: { private: {} } },
      },
    });
    // The provisioner's pod ran in containerd as the runtime image's user, with the volume mounted.
    const pod = await eventually(
      async () => {
        const found = (
          await core.listNamespacedPod({
            namespace: ns,
            labelSelector: 'app.kubernetes.io/component=weights-provisioner',
          })
        ).items.find((p) => p.status?.containerStatuses?.[0]?.state?.terminated);
        if (!found) throw new Error('no finished provisioner pod yet');
        return found;
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    expect(pod.spec?.nodeName).toBe(cluster.node.name);
    expect(pod.status?.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\//);
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    process.stderr.write(
      `[realnode e2e] provisioner exited ${terminated?.exitCode}: ${terminated?.message}\n`,
    );
    expect(hub.requests.length).toBeGreaterThan(0);
    // The non-root provisioner could write the volume: fsGroup made it group-writable for uid 65532.
    const volume = statSync(volumeDir);
    expect(volume.gid).toBe(65532);
    const written = readdirSync(volumeDir, { recursive: true }).map(
      (f) => statSync(join(volumeDir, String(f))).uid,
    );
    expect(written).toContain(65532);
    // The refusal reaches the status, with the provisioner's reason.
    const status = await eventually(
      async () => {
        const cr = (await objects.getNamespacedCustomObject({
          group: 'inference.pixtral.dev',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'pixtraldeployments',
          name: 'vision',
        })) as {
          status?: { phase?: string; conditions?: { type: string; status: string; message?: string }[] };
        };
        expect(cr.status?.phase).toBe('Error');
        return cr.status;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const weightsReady = status?.conditions?.find((c) => c.type === 'WeightsReady');
    process.stderr.write(`[realnode e2e] WeightsReady: ${weightsReady?.status} ${weightsReady?.message}\n`);
    expect(weightsReady?.status).toBe('False');
    expect(weightsReady?.message).toMatch(/catalog|SHA-256|bytes/);
  });
});
