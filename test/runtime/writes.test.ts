/**
 * The write helpers against a real API server: status apply on a CRD's status subresource,
 * no-op skipping, field removal, finalizers beside others' finalizers, conflict retries, Event
 * de-duplication, error classification, and the informer's owner index, paging and trimming.
 */
import type { KubernetesObject, V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { appliedBy } from '../../operator/src/runtime/applied-fields.ts';
import {
  BuiltinKinds,
  EventRecorder,
  Informer,
  type KindRef,
  KubeApiError,
  KubeClient,
  needsApply,
  RuntimeMetrics,
  Writer,
} from '../../operator/src/runtime/index.ts';
import {
  type ControlPlane,
  eventually,
  freshNamespace,
  installCrds,
  startControlPlane,
} from '../harness/index.ts';
import { controllerReference } from './toy.ts';

const Widget: KindRef = {
  apiVersion: 'toy.pixtral.dev/v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
};

const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.toy.pixtral.dev}
spec:
  group: toy.pixtral.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              observedGeneration: {type: integer}
              phase: {type: string}
              note: {type: string}
              conditions:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [type]
                items:
                  type: object
                  required: [type, status]
                  properties:
                    type: {type: string}
                    status: {type: string}
                    reason: {type: string}
`;

let cp: ControlPlane;
let ns: string;
let metrics: RuntimeMetrics;
let client: KubeClient;
let writer: Writer;

beforeAll(async () => {
  cp = await startControlPlane({ verbose: false });
  await installCrds(cp.kubeConfig(), [parseYaml(WIDGET_CRD)]);
  ns = await freshNamespace(cp.kubeConfig(), 'writes');
  metrics = new RuntimeMetrics();
  client = new KubeClient({ kubeConfig: cp.kubeConfig(), metrics });
  writer = new Writer({ client });
});

afterAll(async () => {
  await cp?.stop();
});

async function newWidget(name: string): Promise<KubernetesObject> {
  const created = await eventually(() =>
    client.create(Widget, {
      apiVersion: Widget.apiVersion,
      kind: Widget.kind,
      metadata: { name, namespace: ns },
      spec: { size: 1 },
    } as KubernetesObject),
  );
  return created;
}

const patches = () => metrics.apiRequestCount((l) => l.verb === 'patch');

describe('Writer', () => {
  it('applies status to the status subresource once, then skips while it is unchanged', async () => {
    const widget = await newWidget('status-once');
    const status = {
      phase: 'Ready',
      observedGeneration: 1,
      conditions: [{ type: 'Available', status: 'True', reason: 'Up' }],
    };
    const first = await writer.applyStatus(Widget, widget, status);
    expect(first.written).toBe(true);
    const live = (await client.get<KubernetesObject & { status?: unknown }>(Widget, {
      namespace: ns,
      name: 'status-once',
    }))!;
    expect(live.status).toEqual(status);
    const before = await patches();
    const second = await writer.applyStatus(Widget, live, status);
    expect(second.written).toBe(false);
    expect(await patches()).toBe(before);
  });

  it('keeps status fields and conditions another field manager owns', async () => {
    const widget = await newWidget('status-shared');
    const other = new Writer({ client, fieldManager: 'someone-else' });
    await other.applyStatus(Widget, widget, {
      note: 'theirs',
      conditions: [{ type: 'Theirs', status: 'True' }],
    });
    const afterOther = (await client.get(Widget, { namespace: ns, name: 'status-shared' }))!;
    await writer.applyStatus(Widget, afterOther, {
      phase: 'Ready',
      conditions: [{ type: 'Ours', status: 'True' }],
    });
    const live = (await client.get<
      KubernetesObject & { status: { note: string; conditions: Array<{ type: string }> } }
    >(Widget, {
      namespace: ns,
      name: 'status-shared',
    }))!;
    expect(live.status.note).toBe('theirs');
    expect(live.status.conditions.map((c) => c.type).sort()).toEqual(['Ours', 'Theirs']);
  });

  it('skips an unchanged child, and re-applies when a field it set earlier is no longer desired', async () => {
    const owner = await newWidget('owner');
    const desired = (labels: Record<string, string>): V1ConfigMap => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'child', namespace: ns, labels, ownerReferences: [controllerReference(owner)] },
      data: { k: 'v' },
    });
    const first = await writer.apply(BuiltinKinds.ConfigMap, desired({ a: '1', b: '2' }));
    expect(first.written).toBe(true);
    const unchanged = await writer.apply(BuiltinKinds.ConfigMap, desired({ a: '1', b: '2' }), first.object);
    expect(unchanged.written).toBe(false);
    const dropped = await writer.apply(BuiltinKinds.ConfigMap, desired({ a: '1' }), first.object);
    expect(dropped.written).toBe(true);
    expect(dropped.object?.metadata?.labels).toEqual({ a: '1' });
  });

  it('adds and removes its finalizer without touching others, retrying a stale read on conflict', async () => {
    const widget = await newWidget('finalizers');
    await client.mergePatch(
      Widget,
      { namespace: ns, name: 'finalizers' },
      { metadata: { finalizers: ['theirs.example/keep'] } },
    );
    // `widget` is stale now: its resourceVersion predates the patch above, so the first try conflicts.
    const added = await writer.ensureFinalizer(Widget, widget, 'ours.pixtral.dev/cleanup');
    expect(added.object?.metadata?.finalizers).toEqual(['theirs.example/keep', 'ours.pixtral.dev/cleanup']);
    const again = await writer.ensureFinalizer(Widget, added.object!, 'ours.pixtral.dev/cleanup');
    expect(again.written).toBe(false);
    await client.mergePatch(
      Widget,
      { namespace: ns, name: 'finalizers' },
      { metadata: { labels: { touched: 'yes' } } },
    );
    // `added.object` is stale now too: the removal conflicts once, re-reads and succeeds.
    const removed = await writer.removeFinalizer(Widget, added.object!, 'ours.pixtral.dev/cleanup');
    expect(removed.object?.metadata?.finalizers).toEqual(['theirs.example/keep']);
    expect(await metrics.apiRequestCount((l) => l.code === '409')).toBeGreaterThanOrEqual(2);
  });

  it('takes removing its finalizer from an object that is already gone as done', async () => {
    const widget = await newWidget('gone');
    const added = await writer.ensureFinalizer(Widget, widget, 'ours.pixtral.dev/cleanup');
    await writer.removeFinalizer(Widget, added.object!, 'ours.pixtral.dev/cleanup');
    await client.delete(Widget, { namespace: ns, name: 'gone' });
    // `added.object` is what a stale cache would still show: the finalizer, on a deleted object.
    const again = await writer.removeFinalizer(Widget, added.object!, 'ours.pixtral.dev/cleanup');
    expect(again).toEqual({ object: undefined, written: false });
  });
});

describe('EventRecorder', () => {
  it('folds repeats of one Event into a series instead of new objects', async () => {
    const widget = await newWidget('evented');
    const recorder = new EventRecorder({
      client,
      controller: 'pixtral.dev/operator',
      instance: 'test',
      seriesIntervalMs: 0,
    });
    const creates = () => metrics.apiRequestCount((l) => l.verb === 'create' && l.resource === 'events');
    const before = await creates();
    for (let i = 0; i < 3; i++)
      await recorder.record(
        widget,
        'Warning',
        'WeightsDigestMismatch',
        'Verify',
        'The weights digest differs',
      );
    expect(await creates()).toBe(before + 1);
    const list = await client.list<KubernetesObject & { reason?: string; series?: { count: number } }>(
      BuiltinKinds.Event,
      { namespace: ns },
    );
    const ours = list.items.filter((e) => e.reason === 'WeightsDigestMismatch');
    expect(ours).toHaveLength(1);
    expect(ours[0]?.series?.count).toBe(3);
  });

  it('writes nothing for repeats inside the series interval', async () => {
    const widget = await newWidget('quiet');
    const recorder = new EventRecorder({ client, controller: 'pixtral.dev/operator', instance: 'test' });
    expect(await recorder.record(widget, 'Normal', 'Created', 'Create', 'Created it')).toBe(true);
    expect(await recorder.record(widget, 'Normal', 'Created', 'Create', 'Created it')).toBe(false);
  });
});

describe('KubeClient errors', () => {
  it('answers undefined for a missing object and classifies a 422 as terminal, a refused connection as transient', async () => {
    expect(await client.get(BuiltinKinds.ConfigMap, { namespace: ns, name: 'absent' })).toBeUndefined();
    const invalid = client.create(BuiltinKinds.ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'Not_A_DNS_Name', namespace: ns },
    });
    await expect(invalid).rejects.toMatchObject({ code: 422, retry: 'terminal' });
    const down = cp.kubeConfig();
    down.clusters[0] = { ...down.clusters[0]!, server: 'https://127.0.0.1:1' };
    const refused = new KubeClient({ kubeConfig: down }).get(BuiltinKinds.ConfigMap, {
      namespace: ns,
      name: 'x',
    });
    await expect(refused).rejects.toBeInstanceOf(KubeApiError);
    await expect(refused).rejects.toMatchObject({ code: 0, retry: 'transient' });
  });

  it('opens no watch for an already aborted signal (a stopped informer does not wait for the server timeout)', async () => {
    await client.create(BuiltinKinds.ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'seen-by-any-watch', namespace: ns },
    } as KubernetesObject);
    const stopped = new AbortController();
    stopped.abort();
    const received: string[] = [];
    for await (const event of client.watch(BuiltinKinds.ConfigMap, {
      namespace: ns,
      resourceVersion: '',
      timeoutSeconds: 300,
      idleTimeoutMs: 330_000,
      signal: stopped.signal,
    }))
      received.push(event.type);
    expect(received).toEqual([]);
  });
});

describe('Informer', () => {
  it('lists in pages, indexes children by their controller owner, and follows deletions', async () => {
    const owner = await newWidget('parent');
    for (let i = 0; i < 5; i++) {
      await client.create(BuiltinKinds.ConfigMap, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: `kid-${i}`,
          namespace: ns,
          labels: { family: 'yes' },
          ownerReferences: i < 3 ? [controllerReference(owner)] : [],
        },
      } as KubernetesObject);
    }
    const informer = new Informer({
      client,
      kind: BuiltinKinds.ConfigMap,
      namespace: ns,
      labelSelector: 'family=yes',
      pageSize: 2,
      metrics,
    });
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    try {
      await informer.whenSynced();
      expect(informer.size).toBe(5);
      expect(
        informer
          .byOwner(owner.metadata!.uid!)
          .map((c) => c.metadata?.name)
          .sort(),
      ).toEqual(['kid-0', 'kid-1', 'kid-2']);
      expect(
        await metrics.apiRequestCount((l) => l.verb === 'list' && l.resource === 'configmaps'),
      ).toBeGreaterThanOrEqual(3);
      await client.delete(BuiltinKinds.ConfigMap, { namespace: ns, name: 'kid-1' });
      await eventually(() =>
        expect(
          informer
            .byOwner(owner.metadata!.uid!)
            .map((c) => c.metadata?.name)
            .sort(),
        ).toEqual(['kid-0', 'kid-2']),
      );
      expect(informer.get(ns, 'kid-1')).toBeUndefined();
    } finally {
      stop.abort();
      await running;
    }
  });

  it("caches no managedFields, only a digest of its own applies, nor kubectl's last-applied copy, and lists one namespace", async () => {
    const other = await freshNamespace(cp.kubeConfig(), 'rt-informer');
    const configMap = (namespace: string, ours = 'applied') =>
      ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'trimmed', namespace, labels: { trimmed: 'yes' } },
        data: { ours },
      }) as KubernetesObject;
    for (const namespace of [ns, other]) await writer.apply(BuiltinKinds.ConfigMap, configMap(namespace));
    // Another client's edit: an Update entry and kubectl's copy of what it last applied.
    await client.mergePatch(
      BuiltinKinds.ConfigMap,
      { namespace: ns, name: 'trimmed' },
      {
        metadata: {
          annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"ConfigMap"}' },
        },
        data: { theirs: 'edited' },
      },
    );
    const live = await client.get<V1ConfigMap>(BuiltinKinds.ConfigMap, { namespace: ns, name: 'trimmed' });
    expect(live?.metadata?.managedFields?.map((m) => m.operation).sort()).toEqual(['Apply', 'Update']);
    const informer = new Informer<V1ConfigMap>({
      client,
      kind: BuiltinKinds.ConfigMap,
      labelSelector: 'trimmed=yes',
    });
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    try {
      await informer.whenSynced();
      const cached = informer.get(ns, 'trimmed');
      expect(cached?.data).toEqual({ ours: 'applied', theirs: 'edited' });
      expect(cached?.metadata).not.toHaveProperty('managedFields');
      // What the API server recorded of our apply, reduced: another client's edit beside it
      // needs no apply, a change of ours does.
      expect(appliedBy(cached!, writer.fieldManager)?.paths).toEqual(['data.ours', 'metadata.labels']);
      expect(needsApply(configMap(ns), cached!, writer.fieldManager, '')).toBe(false);
      expect(needsApply(configMap(ns, 'changed'), cached!, writer.fieldManager, '')).toBe(true);
      expect(cached?.metadata?.annotations ?? {}).not.toHaveProperty(
        'kubectl.kubernetes.io/last-applied-configuration',
      );
      expect(informer.list(other).map((c) => c.metadata?.namespace)).toEqual([other]);
      expect(informer.list().length).toBe(2);
    } finally {
      stop.abort();
      await running;
    }
  });
});
