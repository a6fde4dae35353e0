/**
 * The runtime against a real control plane (etcd + kube-apiserver, audit log on, watch cache
 * off so a compacted resourceVersion answers 410). The operator runs in-process and reaches
 * the API server through a TCP relay the tests can cut.
 */
import { stat } from 'node:fs/promises';
import { EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOperatorLogger,
  loadRuntimeConfig,
  Manager,
  WRITE_VERBS,
} from '../../operator/src/runtime/index.ts';
import {
  type ControlPlane,
  eventually,
  freshNamespace,
  startControlPlane,
  untilQuiet,
} from '../harness/index.ts';
import { auditSince, inPool, kubeConfigVia, Toys } from './cluster.ts';
import { type Relay, startRelay } from './tcp-relay.ts';
import { addToyController } from './toy.ts';

const IDENTITY = 'inproc-operator';

let cp: ControlPlane;
let relay: Relay;
let mgr: Manager;
let toys: Toys;
let ns: string;
const stop = new AbortController();
let running: Promise<void>;

beforeAll(async () => {
  cp = await startControlPlane({ auditLog: true, watchCache: false, verbose: false });
  relay = await startRelay(Number(new URL(cp.apiServerUrl).port));
  toys = new Toys(cp);
  const config = loadRuntimeConfig(
    [
      '--health-port',
      '0',
      '--health-host',
      '127.0.0.1',
      '--leader-elect',
      'false',
      '--resync-ms',
      '5000',
      '--identity',
      IDENTITY,
    ],
    {},
  );
  mgr = new Manager({
    config,
    kubeConfig: kubeConfigVia(cp, relay.port),
    // 'error': the API server restart below makes every watch warn while it is down, as it should.
    log: createOperatorLogger('error'),
    informer: { initialBackoffMs: 200, maxBackoffMs: 2000 },
  });
  addToyController(mgr);
  running = mgr.start(stop.signal);
  ns = await freshNamespace(cp.kubeConfig(), 'runtime');
  await eventually(() => expect(mgr.synced).toBe(true));
});

afterAll(async () => {
  stop.abort();
  await running;
  await relay?.close();
  await cp?.stop();
});

describe('the runtime driving a toy reconciler', () => {
  it('reports ready on /readyz once caches are synced, and serves /healthz and /metrics', async () => {
    const base = mgr.healthUrl!;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/rest_client_requests_total\{verb="list",resource="configmaps",code="200"\} \d+/);
    expect(metrics).toContain('# TYPE controller_runtime_reconcile_time_seconds histogram');
    expect(metrics).toContain('# TYPE workqueue_depth gauge');
    expect(metrics).toContain('# TYPE controller_runtime_active_workers gauge');
  });

  it('converges roots that are created, updated and deleted, and repairs drifted children', async () => {
    await Promise.all(['a', 'b', 'c'].map((n) => toys.createRoot(ns, n, `value-${n}`)));
    await eventually(() =>
      Promise.all(['a', 'b', 'c'].map((n) => toys.expectConverged(ns, n, `value-${n}`))),
    );

    await toys.setValue(ns, 'a', 'changed');
    await eventually(() => toys.expectConverged(ns, 'a', 'changed'));

    await toys.core.deleteNamespacedConfigMap({ namespace: ns, name: 'c' });
    await eventually(async () => {
      expect(await toys.child(ns, 'c')).toBeUndefined();
      expect(await toys.root(ns, 'c')).toBeUndefined();
    });

    await toys.core.deleteNamespacedSecret({ namespace: ns, name: 'b-toy' });
    await eventually(() => toys.expectConverged(ns, 'b', 'value-b'));

    const drifted = (await toys.child(ns, 'a'))!;
    await toys.core.replaceNamespacedSecret({
      namespace: ns,
      name: 'a-toy',
      body: { ...drifted, data: { value: Buffer.from('tampered').toString('base64') } },
    });
    await eventually(() => toys.expectConverged(ns, 'a', 'changed'));
  });

  it('records an Event on the root when it applies a child', async () => {
    const events = cp.kubeConfig().makeApiClient(EventsV1Api);
    await eventually(async () => {
      const list = await events.listNamespacedEvent({ namespace: ns });
      const applied = list.items.filter((e) => e.reason === 'ChildApplied' && e.regarding?.name === 'b');
      expect(applied.length).toBeGreaterThan(0);
      expect(applied[0]?.reportingController).toBe('pixtral.dev/operator');
    });
  });

  it('makes no write requests in steady state over 30 s, although it keeps reconciling', async () => {
    await eventually(() =>
      Promise.all([toys.expectConverged(ns, 'a', 'changed'), toys.expectConverged(ns, 'b', 'value-b')]),
    );
    await eventually(() =>
      expect(mgr.metrics.queueDepth.get().then((g) => g.values.every((v) => v.value === 0))).resolves.toBe(
        true,
      ),
    );
    // A reconcile of the root deleted earlier can still be on its way (a cache that has not yet
    // seen the deletion); steady state starts once no write has happened for 2 s.
    const writesBefore = await untilQuiet(() => mgr.metrics.apiWriteCount());
    const reconcilesBefore = await reconcileCount();
    const auditOffset = (await stat(cp.auditLogPath!)).size;

    // An unrelated edit triggers a reconcile that must find nothing to do.
    const cm = (await toys.root(ns, 'a'))!;
    await toys.core.replaceNamespacedConfigMap({
      namespace: ns,
      name: 'a',
      body: { ...cm, metadata: { ...cm.metadata, annotations: { unrelated: 'touch' } } },
    });
    await new Promise((r) => setTimeout(r, 30_000));

    expect(await reconcileCount()).toBeGreaterThan(reconcilesBefore + 2); // resync every 5 s re-reconciles
    expect(await mgr.metrics.apiWriteCount()).toBe(writesBefore);
    const ours = (await auditSince(cp.auditLogPath!, auditOffset)).filter((r) =>
      r.userAgent?.startsWith(`pixtral-operator/${IDENTITY}`),
    );
    expect(ours.filter((r) => WRITE_VERBS.has(r.verb))).toEqual([]);
  }, 90_000);

  it('recovers when its watch is forced past a compacted resourceVersion (410 Gone)', async () => {
    const expiredBefore = await relists('expired');
    relay.cut();
    await toys.createRoot(ns, 'd', 'born-while-cut');
    await toys.setValue(ns, 'b', 'changed-while-cut');
    await toys.core.deleteNamespacedSecret({ namespace: ns, name: 'a-toy' }); // a deletion the watch never saw
    await cp.compactEtcd();
    relay.restore();
    await eventually(
      () =>
        Promise.all([
          toys.expectConverged(ns, 'd', 'born-while-cut'),
          toys.expectConverged(ns, 'b', 'changed-while-cut'),
          toys.expectConverged(ns, 'a', 'changed'),
        ]),
      { timeoutMs: 60_000 },
    );
    expect(await relists('expired')).toBeGreaterThan(expiredBefore);
  }, 90_000);

  it('resumes and converges after the API server is stopped and started again, without a restart', async () => {
    const errorsBefore = await watchErrors();
    await cp.stopApiServer();
    await new Promise((r) => setTimeout(r, 3_000));
    await cp.startApiServer();
    await toys.createRoot(ns, 'e', 'after-restart');
    await toys.setValue(ns, 'd', 'updated-after-restart');
    await eventually(
      () =>
        Promise.all([
          toys.expectConverged(ns, 'e', 'after-restart'),
          toys.expectConverged(ns, 'd', 'updated-after-restart'),
        ]),
      {
        timeoutMs: 60_000,
      },
    );
    expect(await watchErrors()).toBeGreaterThan(errorsBefore);
  }, 120_000);

  it('converges 500 roots created at once', async () => {
    const bulk = await freshNamespace(cp.kubeConfig(), 'bulk');
    const names = Array.from({ length: 500 }, (_, i) => `r${i}`);
    await inPool(names, 25, (n) => toys.createRoot(bulk, n, n));
    await eventually(
      async () => {
        const secrets = await toys.core.listNamespacedSecret({
          namespace: bulk,
          labelSelector: 'app.kubernetes.io/managed-by=pixtral-operator',
        });
        expect(secrets.items.length).toBe(500);
      },
      { timeoutMs: 150_000, intervalMs: 1000 },
    );
    await Promise.all(['r0', 'r250', 'r499'].map((n) => toys.expectConverged(bulk, n, n)));
  }, 240_000);
});

async function reconcileCount(): Promise<number> {
  const { values } = await mgr.metrics.reconcileTotal.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

async function relists(cause: string): Promise<number> {
  const { values } = await mgr.metrics.informerRelists.get();
  return values.filter((v) => v.labels.cause === cause).reduce((sum, v) => sum + v.value, 0);
}

async function watchErrors(): Promise<number> {
  const { values } = await mgr.metrics.watchErrors.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}
