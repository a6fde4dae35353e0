/**
 * The product end to end on a real node, as a platform engineer installs it and a user uses it.
 * `helm install` of the chart with the locally built images runs the operator as two real pods
 * under the chart's ServiceAccount and RBAC, one of them the leader. Its configuration points the
 * catalog's Pixtral, through `weights.sources`, at a small copy (the real tokenizer, 19 MB in all)
 * that a hub-like server on the node's bridge serves, pinned by SHA-256 like the catalog's own.
 * The deployments' namespaces enforce PodSecurity `restricted`, so every pod the operator creates
 * must be admitted by it. Then:
 * - a hub whose ids disagree with the pins: the real provisioner refuses, and the status says why;
 * - `kubectl apply` of a PixtralDeployment with a public and a private endpoint: the provisioner
 *   (non-root, through fsGroup) fills a local PersistentVolume, the serving pod (the real sidecar
 *   beside the vLLM stand-in, chosen only through `images.vllm`) starts, `kubectl wait
 *   --for=condition=Ready` returns;
 * - the openai client through Traefik at `https://<status.uuid>.<baseDomain>/v1` (TLS with the
 *   SNI and Host of that URL, resolved to 127.0.0.1 with no /etc/hosts edit): 200 with one and 12
 *   images, a stream, 413 from the sidecar for 13 images, 401 without a key; and a pod in the
 *   cluster at the private endpoint's DNS name, with the key from the generated Secret: 200;
 * - a key added to the user's Secret works once the kubelet has rewritten the sidecar's mounted
 *   hashes, without a restart, and gets 401 once removed (the delays are printed);
 * - a new `maxContextLength` rolls the pod (a new `--max-model-len`), and Ready returns;
 * - deleting the PixtralDeployment removes everything the operator made; the volume is Released
 *   and keeps its data (its reclaim policy, Retain, as docs/weights.md promises).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Pod,
  type V1PodSecurityContext,
} from '@kubernetes/client-node';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { PixtralDeployment } from '../../operator/src/api/pixtral-deployment.ts';
import { MANAGED_BY } from '../../operator/src/builders/labels.ts';
import { apiKeysSecretName } from '../../operator/src/builders/names.ts';
import { findModel } from '../../operator/src/catalog/index.ts';
import { eventually } from '../harness/index.ts';
import { type RealNodeCluster, startRealNodeCluster } from '../harness/real-node.ts';
import { buildImage } from '../image/docker.ts';
import { type HubFile, type HubServer, startHub } from '../provisioner/hub-server.ts';
import { chatWithImageAndStream, openAi, withImages } from './chat.ts';
import { localImages, smallResources, TAG } from './operator-config.ts';
import { startTraefik, type Traefik } from './traefik.ts';
import { mirrorSource, writeStandInWeights } from './weights.ts';

const CHART = join(import.meta.dirname, '..', '..', 'charts', 'pixtral-operator');
const pixtral = findModel('mistral/pixtral-12b-2409:bf16')!;
/** The mirror's copy of Pixtral: its own repository and commit. */
const MIRROR_REPO = 'platform/pixtral-12b-2409-small';
const MIRROR_REVISION = '5e1f7c2a9b3d4e6f8a0b1c2d3e4f5a6b7c8d9e0f';
/** Where the deployment is served; REFUSED is where the hub's ids disagree with the pins. */
const NS = 'team-a';
const REFUSED_NS = 'team-b';
const NAME = 'vision';
const BASE_DOMAIN = 'inference.test';
const INGRESS_CLASS = 'traefik-realnode';
const WILDCARD_SECRET = 'wildcard-tls';
const NEW_CONTEXT_LENGTH = 32768;
const PIXTRAL_DEPLOYMENTS = {
  group: 'inference.pixtral.dev',
  version: 'v1alpha1',
  plural: 'pixtraldeployments',
} as const;
/** Every kind the operator creates in a deployment's namespace (all of them built in). */
const CHILD_KINDS =
  'deployments,replicasets,pods,services,ingresses,secrets,configmaps,jobs,persistentvolumeclaims,poddisruptionbudgets,networkpolicies';

const helmHome = mkdtempSync(join(tmpdir(), 'pxd-realnode-helm-'));
let cluster: RealNodeCluster;
let core: CoreV1Api;
let objects: CustomObjectsApi;
let hub: HubServer;
/** The mirror's files, as the hub serves them. */
let files: HubFile[];
let traefik: Traefik | undefined;

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

/** kubectl that throws with its output, the pods and the latest events, which say why. */
async function kubectlOrExplain(args: string[], input?: string): Promise<string> {
  const result = await cluster.kubectl(args, input === undefined ? {} : { input });
  if (result.code === 0) return result.stdout;
  throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}${await clusterState()}`);
}

/** `kubectl wait --for=condition=Ready` on the deployment, as a user waits for it. */
function waitForReady(): Promise<string> {
  return kubectlOrExplain([
    'wait',
    '--for=condition=Ready',
    `pixtraldeployment/${NAME}`,
    '-n',
    NS,
    '--timeout=300s',
  ]);
}

/** The pods, the PixtralDeployments and the latest events, for a failure's message. */
async function clusterState(): Promise<string> {
  const pods = await cluster.kubectl(['get', 'pods', '-A', '-o', 'wide']);
  const crs = await cluster.kubectl(['get', 'pixtraldeployments', '-A', '-o', 'yaml']);
  const events = await cluster.kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']);
  return `\n${pods.stdout}\n${crs.stdout}\n${events.stdout.split('\n').slice(-30).join('\n')}`;
}

beforeAll(async () => {
  for (const target of ['operator', 'runtime', 'vllm', 'pause'] as const) await buildImage(target, TAG);
  // One node and no CPU node: the operator and the weights Job, which do not tolerate the GPU
  // taint (they run on CPU nodes in a real cluster), need it off.
  cluster = await startRealNodeCluster({
    images: [`pixtral-operator:${TAG}`, `pixtral-runtime:${TAG}`, `pixtral-vllm-standin:${TAG}`],
    taint: false,
  });
  core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  files = writeStandInWeights(join(cluster.node.dir, 'hub'));
  hub = await startHub(files, { repo: MIRROR_REPO, revision: MIRROR_REVISION, host: cluster.node.ip });

  // Local PersistentVolumes on the node, as a user without a CSI driver would make them (one per
  // namespace's cache), kept on release; and the namespaces, enforcing `restricted`.
  const volume = (name: string) => {
    mkdirSync(join(cluster.node.dir, 'volumes', name), { recursive: true });
    return {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name },
      spec: {
        capacity: { storage: '100Gi' },
        accessModes: ['ReadWriteOnce', 'ReadWriteMany'],
        storageClassName: 'real-local',
        persistentVolumeReclaimPolicy: 'Retain',
        local: { path: join(cluster.node.dir, 'volumes', name) },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'kubernetes.io/hostname', operator: 'In', values: [cluster.node.name] },
                ],
              },
            ],
          },
        },
      },
    };
  };
  const namespace = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
  });
  const manifests = [
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'real-local' },
      provisioner: 'kubernetes.io/no-provisioner',
      volumeBindingMode: 'WaitForFirstConsumer',
    },
    volume('weights-1'),
    volume('weights-2'),
    namespace(NS),
    namespace(REFUSED_NS),
  ];
  await kubectlOrExplain(['apply', '-f', '-'], manifests.map((m) => stringify(m)).join('---\n'));
  traefik = await startTraefik(cluster, {
    ingressClass: INGRESS_CLASS,
    baseDomain: BASE_DOMAIN,
    wildcardSecret: WILDCARD_SECRET,
    namespaces: [NS],
  });

  const config = {
    baseDomain: BASE_DOMAIN,
    ingress: { className: INGRESS_CLASS, tls: { wildcardSecretName: WILDCARD_SECRET } },
    images: localImages,
    resources: smallResources,
    weights: {
      hubUrl: hub.hubUrl,
      storageClassName: 'real-local',
      sources: { [pixtral.name]: mirrorSource(files, MIRROR_REPO, MIRROR_REVISION) },
    },
  };
  try {
    await helm([
      'install',
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
      '--wait',
      '--timeout',
      '3m',
    ]);
  } catch (error) {
    throw new Error(`${(error as Error).message}${await clusterState()}`);
  }
  // The ServiceAccount admission refuses pods until the controller manager made `default`.
  for (const ns of [NS, REFUSED_NS])
    await eventually(() => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }), {
      timeoutMs: 60_000,
    });
});

afterAll(async () => {
  await traefik?.stop();
  await hub?.close();
  await cluster?.stop();
  rmSync(helmHome, { recursive: true, force: true });
});

/** `kubectl apply` of the PixtralDeployment `vision` in `namespace` with these endpoints. */
async function applyDeployment(namespace: string, endpoints: PixtralDeployment['spec']['endpoints']) {
  const manifest = {
    apiVersion: 'inference.pixtral.dev/v1alpha1',
    kind: 'PixtralDeployment',
    metadata: { name: NAME, namespace },
    spec: { model: pixtral.name, nodeType: 'H100', minSize: 1, maxSize: 1, endpoints },
  };
  await kubectlOrExplain(['apply', '-f', '-'], stringify(manifest));
}

const readDeployment = async (namespace: string) =>
  (await objects.getNamespacedCustomObject({
    ...PIXTRAL_DEPLOYMENTS,
    namespace,
    name: NAME,
  })) as PixtralDeployment;

/** The serving pods of `vision` in NS that are not being deleted. */
async function servingPods(): Promise<V1Pod[]> {
  const pods = await core.listNamespacedPod({
    namespace: NS,
    labelSelector: `app.kubernetes.io/instance=${NAME},app.kubernetes.io/component=server`,
  });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp);
}

const vllmArgs = (pod: V1Pod) => pod.spec?.containers.find((c) => c.name === 'vllm')?.args?.join(' ') ?? '';

/** `kubectl get <CHILD_KINDS>` in NS: what carries the operator's managed-by label, as kind/name. */
async function managedObjects(): Promise<string[]> {
  const out = await kubectlOrExplain([
    'get',
    CHILD_KINDS,
    '-n',
    NS,
    '-l',
    `app.kubernetes.io/managed-by=${MANAGED_BY}`,
    '-o',
    'name',
  ]);
  return out.split('\n').filter(Boolean);
}

/** The API key the operator generated: its id in the `<name>-api-keys` Secret and its value. */
async function generatedKey(): Promise<{ id: string; key: string }> {
  const secret = await core.readNamespacedSecret({
    name: apiKeysSecretName(await readDeployment(NS)),
    namespace: NS,
  });
  const [entry] = Object.entries(secret.data ?? {});
  if (!entry) throw new Error('the generated API keys Secret holds no key');
  return { id: entry[0], key: Buffer.from(entry[1], 'base64').toString('utf8') };
}

/** The public endpoint's URL on Traefik's entry point (127.0.0.1): `https://<status.uuid>.<baseDomain>:<port>/v1`. */
const publicUrl = async () => traefik!.url((await readDeployment(NS)).status!.uuid!);

/** A user's pod under `restricted`: the runtime image's non-root user. */
const restrictedPod: V1PodSecurityContext = {
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};

describe('the product on a real node', () => {
  it('runs the operator as two real pods under the chart, one of them the leader', async () => {
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

  it('reports the real provisioner refusing a hub whose SHA-256 disagrees with the pin', async () => {
    const pinned = files.find((f) => f.name === 'tekken.json')!.sha256;
    const claimed = '0'.repeat(64);
    hub.faults.wrongIds = { file: 'tekken.json', sha256: claimed };
    try {
      await applyDeployment(REFUSED_NS, { private: { disableAuth: false } });
      const status = await eventually(
        async () => {
          const cr = await readDeployment(REFUSED_NS);
          expect(cr.status?.phase).toBe('Error');
          return cr.status;
        },
        { timeoutMs: 240_000, intervalMs: 1000 },
      );
      const weightsReady = status?.conditions?.find((c) => c.type === 'WeightsReady');
      process.stderr.write(`[realnode e2e] WeightsReady: ${weightsReady?.status} ${weightsReady?.message}\n`);
      expect(weightsReady?.status).toBe('False');
      expect(weightsReady?.message).toContain(pinned);
      expect(weightsReady?.message).toContain(claimed);
    } finally {
      delete hub.faults.wrongIds;
    }
    await kubectlOrExplain(['delete', 'pixtraldeployment', NAME, '-n', REFUSED_NS, '--wait=false']);
  });

  it('provisions the mirror copy with the real provisioner and becomes Ready for kubectl wait', async () => {
    const applied = Date.now();
    hub.resetStats();
    await applyDeployment(NS, { public: { disableAuth: false }, private: { disableAuth: false } });
    await waitForReady();
    process.stderr.write(
      `[realnode e2e] kubectl wait --for=condition=Ready returned ${((Date.now() - applied) / 1000).toFixed(1)} s after kubectl apply\n`,
    );
    const cr = await readDeployment(NS);
    expect(cr.status?.weights?.revision).toBe(MIRROR_REVISION);
    expect(hub.requests.some((r) => r.path.includes(MIRROR_REPO))).toBe(true);

    // The provisioner ran in containerd as the runtime image's user and filled a real volume,
    // group-writable through fsGroup.
    const [provisioner] = (
      await core.listNamespacedPod({
        namespace: NS,
        labelSelector: 'app.kubernetes.io/component=weights-provisioner',
      })
    ).items;
    expect(provisioner?.status?.phase).toBe('Succeeded');
    expect(provisioner?.status?.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\//);
    const [pvc] = (
      await core.listNamespacedPersistentVolumeClaim({
        namespace: NS,
        labelSelector: 'app.kubernetes.io/component=weights',
      })
    ).items;
    const pv = await core.readPersistentVolume({ name: pvc!.spec!.volumeName! });
    const volumeDir = pv.spec!.local!.path;
    expect(statSync(volumeDir).gid).toBe(65532);
    for (const file of ['consolidated.safetensors', 'params.json', 'tekken.json'])
      expect(statSync(join(volumeDir, file)).uid).toBe(65532);

    const [serving] = await servingPods();
    expect(serving?.status?.containerStatuses?.map((c) => [c.name, c.ready])).toEqual(
      expect.arrayContaining([
        ['sidecar', true],
        ['vllm', true],
      ]),
    );
    expect(serving?.status?.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\//);
  });

  it('answers the openai client through Traefik at https://<status.uuid>.<baseDomain>/v1: images, a stream, 413, 401', async () => {
    const cr = await readDeployment(NS);
    expect(cr.status?.endpoints?.public).toBe(`https://${cr.status?.uuid}.${BASE_DOMAIN}/v1`);
    const url = await publicUrl();
    await traefik!.waitForRoute(url);
    const client = openAi(url, (await generatedKey()).key, traefik!.agent);
    const chunks = await chatWithImageAndStream(client, pixtral.name);
    const twelve = await withImages(client, pixtral.name, 12);
    expect(twelve.choices[0]?.message.content).toBeTruthy();
    // The sidecar's OpenAI-shaped refusal, not a proxy's page: its type and code came through.
    await expect(withImages(client, pixtral.name, 13)).rejects.toMatchObject({
      status: 413,
      type: 'invalid_request_error',
      code: 'too_many_images',
    });
    const noKey = await undiciFetch(`${url}/chat/completions`, {
      method: 'POST',
      dispatcher: traefik!.agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: pixtral.name, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { type: string } }).error.type).toBeTruthy();
    process.stderr.write(
      `[realnode e2e] through Traefik at ${url} (127.0.0.1, SNI ${new URL(url).hostname}): 200 with 1 and 12 images, ${chunks} stream chunks, 413 for 13 images, 401 without a key\n`,
    );
  });

  it('answers a pod in the cluster at the private endpoint by its cluster DNS name', async () => {
    const url = (await readDeployment(NS)).status?.endpoints?.private;
    expect(url).toMatch(new RegExp(`^http://[a-z0-9-]+\\.${NS}\\.svc\\.cluster\\.local(:\\d+)?/v1$`));
    // The key comes from the user's Secret, as an application in the cluster would read it.
    const call = `fetch(process.env.URL + '/chat/completions', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + process.env.KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model: process.env.MODEL, messages: [{ role: 'user', content: 'Hello?' }] }),
    }).then((r) => { console.log(r.status); process.exit(r.status === 200 ? 0 : 1); })`;
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'app' },
        spec: {
          restartPolicy: 'Never',
          securityContext: restrictedPod,
          containers: [
            {
              name: 'app',
              image: localImages.runtime,
              imagePullPolicy: 'IfNotPresent',
              command: ['node', '-e', call],
              env: [
                { name: 'URL', value: url },
                { name: 'MODEL', value: pixtral.name },
                {
                  name: 'KEY',
                  valueFrom: {
                    secretKeyRef: {
                      name: apiKeysSecretName(await readDeployment(NS)),
                      key: (await generatedKey()).id,
                    },
                  },
                },
              ],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    });
    const pod = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ name: 'app', namespace: NS });
        expect(['Succeeded', 'Failed']).toContain(p.status?.phase);
        return p;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const log = await core.readNamespacedPodLog({ name: 'app', namespace: NS });
    expect({ phase: pod.status?.phase, log: log.trim() }).toEqual({ phase: 'Succeeded', log: '200' });
    process.stderr.write(`[realnode e2e] a pod in ${NS} got 200 from ${url}\n`);
    await core.deleteNamespacedPod({ name: 'app', namespace: NS });
  });

  it("takes a key added to the user's Secret once the kubelet synced it, without a restart, and refuses it once removed", async () => {
    const secret = apiKeysSecretName(await readDeployment(NS));
    const url = await publicUrl();
    const statusWith = (key: string) =>
      openAi(url, key, traefik!.agent)
        .models.list()
        .then(() => 200)
        .catch((e: { status?: number }) => e.status);
    const added = `pxd_${randomBytes(16).toString('hex')}`;
    expect(await statusWith(added)).toBe(401);
    const rotation = async (patch: object, expected: number) => {
      const changed = Date.now();
      await kubectlOrExplain([
        'patch',
        'secret',
        secret,
        '-n',
        NS,
        '--type=merge',
        '-p',
        JSON.stringify(patch),
      ]);
      await eventually(async () => expect(await statusWith(added)).toBe(expected), {
        timeoutMs: 180_000,
        intervalMs: 500,
      });
      return ((Date.now() - changed) / 1000).toFixed(1);
    };
    // As a user does it: a data key beside the generated one, then that data key removed.
    const addDelay = await rotation({ stringData: { second: added } }, 200);
    const removeDelay = await rotation({ data: { second: null } }, 401);
    expect(await statusWith((await generatedKey()).key)).toBe(200);
    const [pod] = await servingPods();
    expect(pod?.status?.containerStatuses?.map((c) => c.restartCount)).toEqual([0, 0]);
    process.stderr.write(
      `[realnode e2e] a key added to Secret ${secret} worked ${addDelay} s later, a removed one got 401 ${removeDelay} s later, without a restart\n`,
    );
  });

  it('rolls the serving pod on a new maxContextLength and becomes Ready again', async () => {
    const before = (await servingPods()).map((p) => p.metadata?.name);
    expect(before).toHaveLength(1);
    const changed = Date.now();
    await kubectlOrExplain([
      'patch',
      'pixtraldeployment',
      NAME,
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { maxContextLength: NEW_CONTEXT_LENGTH } }),
    ]);
    // kubectl wait compares the condition's observedGeneration with the new generation.
    await waitForReady();
    const pods = await eventually(
      async () => {
        const now = await servingPods();
        expect(now.map((p) => p.metadata?.name)).not.toContain(before[0]);
        expect(now).toHaveLength(1);
        // Ready can be reported while the old pod still serves; the new one takes a moment more.
        expect(now[0]?.status?.containerStatuses?.every((c) => c.ready)).toBe(true);
        return now;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(vllmArgs(pods[0]!)).toContain(`--max-model-len ${NEW_CONTEXT_LENGTH}`);
    // The new pod serves with the new limit: the sidecar reports it as vLLM's max_model_len.
    const url = await publicUrl();
    // Traefik routes to the new pod once its provider has read the new endpoints.
    await traefik!.waitForRoute(url);
    const models = await openAi(url, (await generatedKey()).key, traefik!.agent).models.list();
    expect((models.data[0] as { max_model_len?: number }).max_model_len).toBe(NEW_CONTEXT_LENGTH);
    process.stderr.write(
      `[realnode e2e] maxContextLength ${NEW_CONTEXT_LENGTH}: pod ${before[0]} replaced by ${pods[0]?.metadata?.name}, Ready again ${((Date.now() - changed) / 1000).toFixed(1)} s after the patch\n`,
    );
  });

  it('removes everything it made when the PixtralDeployment is deleted, and releases the volume', async () => {
    const made = await managedObjects();
    // kubectl names them `<kind>[.<group>]/<name>`.
    const kinds = new Set(made.map((o) => o.split('/')[0]!.split('.')[0]));
    expect([...kinds]).toEqual(
      expect.arrayContaining(['deployment', 'service', 'ingress', 'secret', 'persistentvolumeclaim', 'job']),
    );
    const [pvc] = (
      await core.listNamespacedPersistentVolumeClaim({
        namespace: NS,
        labelSelector: 'app.kubernetes.io/component=weights',
      })
    ).items;
    const pvName = pvc!.spec!.volumeName!;
    await kubectlOrExplain(['delete', 'pixtraldeployment', NAME, '-n', NS, '--timeout=120s']);
    await eventually(async () => expect(await managedObjects()).toEqual([]), {
      timeoutMs: 120_000,
      intervalMs: 1000,
    });
    const pv = await eventually(
      async () => {
        const found = await core.readPersistentVolume({ name: pvName });
        expect(found.status?.phase).toBe('Released');
        return found;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // Retain keeps the verified files for an administrator to reuse or wipe.
    expect(existsSync(join(pv.spec!.local!.path, 'tekken.json'))).toBe(true);
    process.stderr.write(
      `[realnode e2e] deleted: ${made.length} objects gone (${made.join(', ')}); PersistentVolume ${pvName} ${pv.status?.phase}\n`,
    );
  });
});
