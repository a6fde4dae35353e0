/**
 * The serving pod the operator builds, on the real node: the operator's own builders make the
 * Deployment (real sidecar beside the vLLM stand-in, pointed at it only through `images.vllm`),
 * the private Service and the key-hashes Secret; the weights volume is a local PersistentVolume
 * holding the tokenizer file (the weights Job cannot fill it here: the catalog's files are 25 GB).
 * The official openai client then talks to it through the Service IP (kube-proxy): 200 with an
 * image, a stream, 413 for 13 images from the sidecar, 401 without a key, and a key added to the
 * Secret works once the kubelet has rewritten the mounted file, without a pod restart.
 * The public endpoint goes through an ingress controller users run: Traefik as a host process
 * with its Kubernetes Ingress provider on this cluster, an IngressClass of its own, an HTTPS entry
 * point on 127.0.0.1 with a wildcard certificate for `*.<baseDomain>`, and the operator's Ingress;
 * the openai client reaches `https://<uuid>.<baseDomain>:<port>/v1` with SNI and Host from the URL.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment } from '../../operator/src/builders/deployment.ts';
import { ingress } from '../../operator/src/builders/ingress.ts';
import { catalogModel } from '../../operator/src/builders/model.ts';
import { weightsPvcName } from '../../operator/src/builders/names.ts';
import { apiKeyHashesSecret } from '../../operator/src/builders/secrets.ts';
import { service } from '../../operator/src/builders/service.ts';
import { anOperatorConfig, aPixtralDeployment } from '../fixtures/pixtral-deployment.ts';
import { eventually } from '../harness/index.ts';
import { type RealNodeCluster, startRealNodeCluster } from '../harness/real-node.ts';
import { buildImage } from '../image/docker.ts';
import { chatWithImageAndStream, openAi, withImages } from './chat.ts';
import { localImages, smallResources, TAG } from './operator-config.ts';
import { startTraefik, type Traefik } from './traefik.ts';
import { writeStandInWeights } from './weights.ts';

const NS = 'team-a';
const cr = aPixtralDeployment({ endpoints: { private: {}, public: {} } }, { namespace: NS });
/** The status uuid the operator would generate; it names the public host. */
const UUID = randomUUID();
const INGRESS_CLASS = 'traefik-realnode';
const WILDCARD_SECRET = 'wildcard-tls';
const config = anOperatorConfig({
  baseDomain: 'inference.test',
  ingress: { className: INGRESS_CLASS, tls: { wildcardSecretName: WILDCARD_SECRET } },
  images: localImages,
  resources: smallResources,
});
const FIRST_KEY = `pxd_${randomBytes(16).toString('hex')}`;
const SECOND_KEY = `pxd_${randomBytes(16).toString('hex')}`;
let cluster: RealNodeCluster;
let baseURL: string;
let traefik: Traefik | undefined;
/** `https://<uuid>.<baseDomain>:<port>/v1`, served by Traefik on 127.0.0.1. */
let publicURL: string;

/** The user's keys Secret `data` as the API returns it (base64 values), the builder's input. */
const keysData = (...keys: string[]) =>
  Object.fromEntries(keys.map((key, i) => [`key-${i}`, Buffer.from(key).toString('base64')]));

/** A child as the operator would apply it, minus the owner reference (no operator runs here). */
function unowned<T extends { metadata?: { ownerReferences?: unknown } }>(object: T): T {
  const copy = structuredClone(object);
  if (copy.metadata) delete copy.metadata.ownerReferences;
  return copy;
}

beforeAll(async () => {
  await buildImage('runtime', TAG);
  await buildImage('vllm', TAG);
  await buildImage('pause', TAG);
  cluster = await startRealNodeCluster({ images: [`pixtral-runtime:${TAG}`, `pixtral-vllm-standin:${TAG}`] });
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  // The weights folder: the tokenizer the sidecar counts with, and files the stand-in lists.
  const weightsDir = join(cluster.node.dir, 'volumes', 'weights');
  writeStandInWeights(weightsDir);
  const pvc = weightsPvcName(catalogModel(cr, config));
  const volumes = `
apiVersion: v1
kind: PersistentVolume
metadata: {name: weights-local}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteMany]
  storageClassName: ""
  claimRef: {namespace: ${NS}, name: ${pvc}}
  local: {path: ${weightsDir}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [${cluster.node.name}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${pvc}, namespace: ${NS}}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: weights-local
  resources: {requests: {storage: 25Gi}}
`;
  const applied = await cluster.kubectl(['apply', '-f', '-'], { input: volumes });
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
  await core.createNamespacedSecret({
    namespace: NS,
    body: unowned(apiKeyHashesSecret(cr, keysData(FIRST_KEY))),
  });
  await core.createNamespacedService({ namespace: NS, body: unowned(service({ cr, config })) });
  const apps = cluster.kubeConfig().makeApiClient(AppsV1Api);
  const built = unowned(deployment({ cr, config }));
  await apps.createNamespacedDeployment({ namespace: NS, body: built });
  await eventually(
    async () => {
      const d = await apps.readNamespacedDeployment({ name: built.metadata!.name!, namespace: NS });
      if ((d.status?.readyReplicas ?? 0) < 1) {
        const pods = await core.listNamespacedPod({ namespace: NS });
        throw new Error(
          `serving pod not Ready: ${JSON.stringify(pods.items.map((p) => p.status?.containerStatuses))}`,
        );
      }
    },
    { timeoutMs: 240_000, intervalMs: 1000 },
  );
  const svc = await core.readNamespacedService({ name: built.metadata!.name!, namespace: NS });
  baseURL = `http://${svc.spec?.clusterIP}/v1`;
  traefik = await startTraefik(cluster, {
    ingressClass: INGRESS_CLASS,
    baseDomain: config.baseDomain!,
    wildcardSecret: WILDCARD_SECRET,
    namespaces: [NS],
  });
  const ingressObject = ingress({ cr, config }, UUID);
  if (!ingressObject) throw new Error('the Ingress builder built no Ingress for a public endpoint');
  await cluster
    .kubeConfig()
    .makeApiClient(NetworkingV1Api)
    .createNamespacedIngress({ namespace: NS, body: unowned(ingressObject) });
  publicURL = traefik.url(UUID);
  await traefik.waitForRoute(publicURL);
});

afterAll(async () => {
  await traefik?.stop();
  await cluster?.stop();
});

describe('the serving pod on a real node', () => {
  const client = (apiKey: string) => openAi(baseURL, apiKey);

  it('answers a chat with an image and a stream through the Service IP', async () => {
    const chunks = await chatWithImageAndStream(client(FIRST_KEY), cr.spec.model);
    process.stderr.write(`[realnode serving] 200 with an image, ${chunks} stream chunks via ${baseURL}\n`);
  });

  it('refuses 13 images with 413 from the sidecar and a missing key with 401', async () => {
    await expect(withImages(client(FIRST_KEY), cr.spec.model, 13)).rejects.toMatchObject({ status: 413 });
    const noKey = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: cr.spec.model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { type: string } }).error.type).toBeTruthy();
  });

  it('serves the public endpoint through Traefik: an image, a stream, 413 for 13 images, 401 without a key', async () => {
    const publicClient = (apiKey: string) => openAi(publicURL, apiKey, traefik!.agent);
    const chunks = await chatWithImageAndStream(publicClient(FIRST_KEY), cr.spec.model);
    const twelve = await withImages(publicClient(FIRST_KEY), cr.spec.model, 12);
    expect(twelve.choices[0]?.message.content).toBeTruthy();
    // The sidecar's OpenAI-shaped refusal, not a proxy's page: its type and code came through.
    await expect(withImages(publicClient(FIRST_KEY), cr.spec.model, 13)).rejects.toMatchObject({
      status: 413,
      type: 'invalid_request_error',
      code: 'too_many_images',
    });
    const noKey = await undiciFetch(`${publicURL}/chat/completions`, {
      method: 'POST',
      dispatcher: traefik!.agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: cr.spec.model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { type: string } }).error.type).toBeTruthy();
    process.stderr.write(
      `[realnode serving] through Traefik at ${publicURL} (127.0.0.1, SNI ${new URL(publicURL).hostname}): 200 with 1 and 12 images, ${chunks} stream chunks, 413 for 13 images, 401 without a key\n`,
    );
  });

  it('accepts a key added to the Secret once the kubelet rewrote the mounted hashes, without a restart', async () => {
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const before = await client(SECOND_KEY)
      .models.list()
      .then(() => 200)
      .catch((e: { status?: number }) => e.status);
    expect(before).toBe(401);
    const changed = Date.now();
    await core.replaceNamespacedSecret({
      name: apiKeyHashesSecret(cr, {}).metadata!.name!,
      namespace: NS,
      body: unowned(apiKeyHashesSecret(cr, keysData(FIRST_KEY, SECOND_KEY))),
    });
    await eventually(() => client(SECOND_KEY).models.list(), { timeoutMs: 180_000, intervalMs: 500 });
    const delay = (Date.now() - changed) / 1000;
    process.stderr.write(
      `[realnode serving] a new key worked ${delay.toFixed(1)} s after the Secret changed\n`,
    );
    const pods = await core.listNamespacedPod({ namespace: NS });
    expect(pods.items.flatMap((p) => p.status?.containerStatuses?.map((c) => c.restartCount) ?? [])).toEqual([
      0, 0,
    ]);
  });
});
