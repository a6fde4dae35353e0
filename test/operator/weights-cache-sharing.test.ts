/**
 * Three thousand PixtralDeployments of one model in one namespace share one weights cache, on a
 * real API server with the weights-cache controller running: one PVC and one Job, written once,
 * the same size as for one deployment; kept while any deployment is left, released after the last.
 * (The PixtralDeployment controller does not run here: what is measured is the shared cache.) A
 * control plane of its own: 3,000 objects would slow the files sharing the suite's cluster, and
 * those files re-apply the CRD and install other operators' CRDs while this one counts.
 */

import { join } from 'node:path';
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STALL_ANNOTATION } from '../../operator/src/builders/weights.ts';
import { defaultOperatorConfig } from '../../operator/src/config.ts';
import { Kinds, managed } from '../../operator/src/kinds.ts';
import { createOperatorLogger, loadRuntimeConfig, Manager } from '../../operator/src/runtime/index.ts';
import { addWeightsCacheController } from '../../operator/src/weights-cache-controller.ts';
import { PXD } from '../e2e/pxd.ts';
import { type ControlPlane, eventually, freshNamespace, startControlPlane } from '../harness/index.ts';

const SHARERS = 3000;
/** Creates in flight at once: enough to keep the API server busy, not enough to be throttled. */
const CONCURRENCY = 32;

let cp: ControlPlane;
let core: CoreV1Api;
let batch: BatchV1Api;
let custom: CustomObjectsApi;
let namespace: string;
let stop: () => Promise<void>;
let backlog: () => number;
let synced: () => boolean;
/** What the controller sees, for a failure's message. */
let seen: () => string;

beforeAll(async () => {
  // The controller manager: the PVC protection and garbage collection a release relies on.
  cp = await startControlPlane({
    controllerManager: true,
    verbose: false,
    crds: [join(import.meta.dirname, '..', '..', 'crds', 'inference.pixtral.dev_pixtraldeployments.yaml')],
  });
  const kc = cp.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  batch = kc.makeApiClient(BatchV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  namespace = await freshNamespace(kc, 'sharing');
  const manager = new Manager({
    config: loadRuntimeConfig(['--health-port', '0', '--leader-elect', 'false', '--log-level', 'warn'], {}),
    kubeConfig: kc,
    log: createOperatorLogger(process.env.E2E_LOG_LEVEL ?? 'warn'),
    // Reconnect at test speed, as the e2e operator does.
    informer: { initialBackoffMs: 200, maxBackoffMs: 2000 },
  });
  const { controller } = addWeightsCacheController(manager, defaultOperatorConfig({}));
  backlog = () => controller.backlog;
  synced = () => manager.synced;
  // The caches the controller reads, taken before the manager starts.
  const cached = {
    pixtralDeployments: manager.cache(Kinds.PixtralDeployment),
    pvcs: manager.cache(managed(Kinds.PersistentVolumeClaim)),
    jobs: manager.cache(managed(Kinds.Job)),
  };
  seen = () =>
    JSON.stringify({
      // Controllers run once every cache has synced; until then nothing is queued.
      synced: manager.synced,
      backlog: controller.backlog,
      cached: Object.fromEntries(Object.entries(cached).map(([kind, c]) => [kind, c.list(namespace).length])),
    });
  const abort = new AbortController();
  const running = manager.start(abort.signal);
  stop = async () => {
    abort.abort();
    await running;
  };
});

afterAll(async () => {
  await stop?.();
  await cp?.stop();
});

/** Creates deployments `sharer-<from>` up to `sharer-<to - 1>`. */
async function createSharers(from: number, to: number): Promise<void> {
  let next = from;
  const worker = async () => {
    for (let i = next++; i < to; i = next++) {
      await custom.createNamespacedCustomObject({
        ...PXD,
        namespace,
        body: {
          apiVersion: `${PXD.group}/${PXD.version}`,
          kind: 'PixtralDeployment',
          metadata: { name: `sharer-${i}`, labels: { batch: i === 0 ? 'last' : 'rest' } },
          spec: { model: 'mistral/pixtral-12b-2409:bf16', nodeType: 'H100', minSize: 1, maxSize: 1 },
        },
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const pvcs = async () => (await core.listNamespacedPersistentVolumeClaim({ namespace })).items;
const jobs = async () => (await batch.listNamespacedJob({ namespace })).items;

/**
 * Waits until the controller runs (it starts once every cache has synced; before that nothing is
 * queued) and has nothing queued or in flight twice in a row, 200 ms apart.
 */
async function settled(): Promise<void> {
  await eventually(
    async () => {
      expect(synced()).toBe(true);
      expect(backlog()).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(backlog()).toBe(0);
    },
    { timeoutMs: 120_000 },
  );
}

describe(`one weights cache shared by ${SHARERS} deployments`, () => {
  let first: V1PersistentVolumeClaim | undefined;

  it('is one PVC and one Job, the size of one deployment', async () => {
    await createSharers(0, 1);
    await eventually(
      async () => {
        expect(await jobs(), `the controller sees ${seen()}`).toHaveLength(1);
      },
      // With the cache sync on a machine that runs other control planes beside this one.
      { timeoutMs: 120_000 },
    );
    [first] = await pvcs();
    await createSharers(1, SHARERS);
    await settled();
    const [pvc, ...others] = await pvcs();
    expect(others).toEqual([]);
    expect(await jobs()).toHaveLength(1);
    expect(pvc?.metadata?.uid).toBe(first?.metadata?.uid);
    expect(pvc?.metadata?.ownerReferences).toBeUndefined();
    // Nothing the 2,999 later deployments did reached the PVC: it is as the first one made it,
    // under one field manager. The controller may since have noted a stall on it (this cluster
    // provisions no volume, so the claim stays Pending), and the volume controller may bind it.
    const asMade = (p?: V1PersistentVolumeClaim) => {
      const { [STALL_ANNOTATION]: _stall, ...annotations } = p?.metadata?.annotations ?? {};
      return { labels: p?.metadata?.labels, annotations, request: p?.spec?.resources?.requests };
    };
    expect(asMade(pvc)).toEqual(asMade(first));
    const managers = pvc?.metadata?.managedFields?.filter((m) => m.manager === 'pixtral-operator');
    expect(managers).toHaveLength(1);
    expect(JSON.stringify(pvc).length).toBeLessThan(4096);
  }, 600_000);

  it('is kept while one deployment is left, and released after the last', async () => {
    await custom.deleteCollectionNamespacedCustomObject({ ...PXD, namespace, labelSelector: 'batch=rest' });
    await eventually(
      async () => {
        const left = (await custom.listNamespacedCustomObject({ ...PXD, namespace })) as { items: unknown[] };
        expect(left.items).toHaveLength(1);
      },
      { timeoutMs: 120_000 },
    );
    await settled();
    const [kept] = await pvcs();
    expect(kept?.metadata?.uid).toBe(first?.metadata?.uid);
    expect(kept?.metadata?.deletionTimestamp).toBeUndefined();
    expect(await jobs(), `the controller sees ${seen()}`).toHaveLength(1);

    await custom.deleteNamespacedCustomObject({ ...PXD, namespace, name: 'sharer-0' });
    await eventually(
      async () => {
        expect(await jobs()).toEqual([]);
        expect(await pvcs()).toEqual([]);
      },
      { timeoutMs: 60_000 },
    );
  }, 300_000);
});
