import type { V1Job, V1PersistentVolumeClaim, V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pixtralDeploymentCrd } from '../../operator/src/api/crd.ts';
import {
  type DesiredChildren,
  desiredChildren,
  desiredWeightsCache,
  generatedApiKeysSecret,
  normalizeQuantity,
  REPLICAS_HANDOFF_MANAGER,
  replicasHandoff,
  weightsPvc,
} from '../../operator/src/builders/index.ts';
import { type OperatorConfig, parseOperatorConfig } from '../../operator/src/config.ts';
import { Rest } from '../api/rest.ts';
import { aPixtralDeployment } from '../fixtures/pixtral-deployment.ts';
import { freshNamespace, installCrds, sharedControlPlane } from '../harness/index.ts';

/**
 * Every built child through the real API server's server-side apply with `dryRun=All`: the server
 * validates it (built-in kinds, and the real Karpenter NodePool and KEDA ScaledObject schemas),
 * defaults it and normalizes it, and what comes back must hold every field we built with the
 * same value (docs/conventions.md#pure-builders: a built object the server would rewrite makes every apply a write).
 */

const cluster = sharedControlPlane();
const kc = cluster.kubeConfig();
const rest = new Rest(kc);
let namespace: string;

const CRD_FIXTURES = [
  'test/fixtures/crds/karpenter.sh_nodepools.yaml',
  'test/fixtures/crds/keda.sh_scaledobjects.yaml',
];

/** API path of a manifest, from its apiVersion, kind and namespace. */
function pathOf(object: {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}) {
  const plural: Record<string, string> = {
    Deployment: 'deployments',
    Service: 'services',
    Ingress: 'ingresses',
    Secret: 'secrets',
    PersistentVolumeClaim: 'persistentvolumeclaims',
    Job: 'jobs',
    PodDisruptionBudget: 'poddisruptionbudgets',
    ScaledObject: 'scaledobjects',
    NodePool: 'nodepools',
    PixtralDeployment: 'pixtraldeployments',
    Pod: 'pods',
  };
  const apiVersion = object.apiVersion!;
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = object.metadata?.namespace ? `/namespaces/${object.metadata.namespace}` : '';
  return `${base}${ns}/${plural[object.kind!]}/${object.metadata!.name}`;
}

/** Server-side apply; `dryRun` asks the server to do everything but store. */
async function apply(object: object, options: { dryRun?: boolean; fieldManager?: string } = {}) {
  const query = new URLSearchParams({
    fieldManager: options.fieldManager ?? 'pixtral-operator',
    force: 'true',
  });
  if (options.dryRun !== false) query.set('dryRun', 'All');
  const response = await rest.request(
    'PATCH',
    `${pathOf(object)}?${query}`,
    object,
    'application/apply-patch+yaml',
  );
  if (response.status !== 200 && response.status !== 201) {
    throw new Error(
      `Applying ${pathOf(object)} failed with ${response.status}: ${JSON.stringify(response.body)}`,
    );
  }
  return response.body;
}

/**
 * Paths where `actual` lacks a built value or holds another one. Extra live fields (defaults,
 * status) are fine; lists must keep our order, since we apply them sorted. Owner references are
 * matched by uid: a shared weights cache holds the other owners' references too.
 */
function differences(built: unknown, actual: unknown, path = ''): string[] {
  if (built === undefined) return [];
  if (path.endsWith('.ownerReferences') && Array.isArray(built) && Array.isArray(actual)) {
    return built.flatMap((b: { uid: string }, i) =>
      differences(
        b,
        actual.find((a: { uid: string }) => a.uid === b.uid),
        `${path}[${i}]`,
      ),
    );
  }
  if (Array.isArray(built)) {
    if (!Array.isArray(actual) || actual.length !== built.length) {
      return [`${path}: built ${JSON.stringify(built)}, server has ${JSON.stringify(actual)}`];
    }
    return built.flatMap((b, i) => differences(b, actual[i], `${path}[${i}]`));
  }
  if (built !== null && typeof built === 'object') {
    if (actual === null || typeof actual !== 'object') {
      return [`${path}: built ${JSON.stringify(built)}, server has ${JSON.stringify(actual)}`];
    }
    return Object.entries(built).flatMap(([k, v]) =>
      differences(v, (actual as Record<string, unknown>)[k], `${path}.${k}`),
    );
  }
  return built === actual
    ? []
    : [`${path}: built ${JSON.stringify(built)}, server has ${JSON.stringify(actual)}`];
}

const config: OperatorConfig = parseOperatorConfig({
  baseDomain: 'inference.example.com',
  ingress: { className: 'nginx', tls: { certManagerIssuer: { kind: 'ClusterIssuer', name: 'letsencrypt' } } },
  nodePools: {
    provider: 'karpenter',
    nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
    gpuLimit: 16,
  },
  images: { pullSecrets: ['registry-b', 'registry-a'] },
  weights: { hubTokenSecretName: 'hf-token', storageClassName: 'standard' },
  resources: { vllm: { requests: { cpu: '8000m', memory: '65536Mi' }, limits: { memory: '0.09375Ti' } } },
});

/** The desired children, the keys Secret the reconciler creates (once) when the user has none, and the weights cache. */
type Built = DesiredChildren & {
  generatedApiKeysSecret: V1Secret;
  weightsPvc: V1PersistentVolumeClaim;
  weightsJob: V1Job;
};

/** Creates the CR for real (so owner references carry a real uid) and builds its children. */
async function childrenOf(spec: Parameters<typeof aPixtralDeployment>[0], name: string): Promise<Built> {
  const fixture = aPixtralDeployment(spec, { name, namespace });
  const { uid: _uid, generation: _generation, ...metadata } = fixture.metadata;
  const created = await apply({ ...fixture, metadata }, { dryRun: false });
  const cr = aPixtralDeployment(spec, { name, namespace, uid: created.metadata.uid });
  // The weights cache as the weights-cache controller makes it: the PVC for real (the Job's name
  // and owner need its uid), once for every deployment of the namespace.
  const existing = await rest.request('GET', pathOf(weightsPvc({ cr, config })));
  const live = existing.status === 200 ? existing.body : undefined;
  const livePvc = await apply(desiredWeightsCache({ cr, config }, live).pvc, { dryRun: false });
  const cache = desiredWeightsCache({ cr, config }, livePvc);
  const keys = generatedApiKeysSecret(cr, 'pxd_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG');
  return {
    ...desiredChildren({ cr, config, userApiKeys: keys.data }),
    generatedApiKeysSecret: keys,
    weightsPvc: cache.pvc,
    weightsJob: cache.job!,
  };
}

/** The manifests of a build, by member name. */
function manifests(children: Built): [string, object][] {
  const { endpoints: _e, problems: _p, ...objects } = children;
  return Object.entries(objects).filter((entry): entry is [string, object] => entry[1] !== undefined);
}

/** Dry-run applies every child under the field manager the reconciler uses, and lists what the server changed. */
async function roundTrip(children: Built): Promise<Record<string, string[]>> {
  const changed: Record<string, string[]> = {};
  for (const [member, object] of manifests(children)) {
    const diff = differences(object, await apply(object, { fieldManager: 'pixtral-operator' }));
    if (diff.length > 0) changed[member] = diff;
  }
  return changed;
}

beforeAll(async () => {
  await installCrds(kc, [pixtralDeploymentCrd() as Record<string, unknown>, ...CRD_FIXTURES]);
  namespace = await freshNamespace(kc, 'builders');
});

afterAll(async () => {
  await rest.close();
});

describe('built children through a real API server (server-side apply, dryRun=All)', () => {
  it('accepts every child of an autoscaled H100-2 deployment with public and private endpoints unchanged', async () => {
    const children = await childrenOf(
      {
        nodeType: 'H100-2',
        minSize: 1,
        maxSize: 3,
        maxContextLength: 65536,
        endpoints: { public: {}, private: { disableAuth: true } },
        pod: { labels: { team: 'a' }, tolerations: [{ key: 'dedicated', operator: 'Exists' }] },
        resources: { sidecar: { requests: { cpu: '0.5' } } },
      },
      'vision',
    );
    const kinds = manifests(children).map(([member]) => member);
    expect(kinds.sort()).toEqual([
      'apiKeyHashesSecret',
      'deployment',
      'generatedApiKeysSecret',
      'ingress',
      'nodePool',
      'podDisruptionBudget',
      'scaledObject',
      'service',
      'weightsJob',
      'weightsPvc',
    ]);
    expect(await roundTrip(children)).toEqual({});
  });

  it('accepts the children of a fixed-size, private-only H100 deployment unchanged', async () => {
    const children = await childrenOf({ nodeType: 'H100', minSize: 2, maxSize: 2 }, 'fixed');
    expect(children.scaledObject).toBeUndefined();
    expect(children.ingress).toBeUndefined();
    expect(await roundTrip(children)).toEqual({});
  });

  it('keeps the live cache as it is for a deployment that asks for another size and class', async () => {
    const a = await childrenOf({}, 'share-a');
    const b = await childrenOf({ weights: { size: '80Gi', storageClassName: 'other' } }, 'share-b');
    expect(b.weightsPvc).toEqual(a.weightsPvc);
    expect(await roundTrip(b)).toEqual({});
    const live = await rest.request('GET', pathOf(a.weightsPvc));
    expect(live.body.spec.resources.requests.storage).toBe('25Gi');
    expect(live.body.metadata.ownerReferences).toBeUndefined();
  });

  it('normalizes quantities exactly as the API server stores them', async () => {
    const quantities = [
      '1000m',
      '0.5',
      '1500m',
      '2',
      '1000',
      '1.5k',
      '1024Mi',
      '0.5Gi',
      '1.5Gi',
      '2000Mi',
      '0.5Ki',
      '100Ki',
      '0.05Ti',
      '1e3',
      '12e6',
      '1M',
      '0.1',
    ];
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'quantities', namespace },
      spec: {
        containers: quantities.map((q, i) => ({
          name: `c${i}`,
          image: 'example.invalid/none',
          resources: { requests: { cpu: q, memory: q } },
        })),
      },
    };
    const returned = await apply(pod);
    const stored = returned.spec.containers.map(
      (c: { resources: { requests: { cpu: string } } }) => c.resources.requests.cpu,
    );
    expect(quantities.map((q) => normalizeQuantity(q))).toEqual(stored);
  });

  it('keeps live replicas when a fixed-size deployment becomes autoscaled, through the hand-off', async () => {
    const fixed = await childrenOf({ minSize: 2, maxSize: 2 }, 'grows');
    await apply(fixed.deployment, { dryRun: false });
    const cr = aPixtralDeployment(
      { minSize: 2, maxSize: 5 },
      { name: 'grows', namespace, uid: fixed.deployment.metadata!.ownerReferences![0]!.uid },
    );
    const scaled = desiredChildren({ cr, config }).deployment;
    expect(scaled.spec).not.toHaveProperty('replicas');
    // Without the hand-off the server drops the field the operator alone owned, and defaults it to 1.
    expect((await apply(scaled)).spec.replicas).toBe(1);
    await apply(replicasHandoff({ cr, config }, 2), {
      dryRun: false,
      fieldManager: REPLICAS_HANDOFF_MANAGER,
    });
    expect((await apply(scaled)).spec.replicas).toBe(2);
  });
});
