import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { Channel, Controller, type ControllerRuntime, type Reconciler } from './controller.ts';
import type { Informer } from './informer.ts';
import { type KindRef, keyString } from './kinds.ts';
import { createOperatorLogger } from './logger.ts';
import { MemoryCache } from './memory-cache.ts';
import { RuntimeMetrics } from './metrics.ts';

const Root: KindRef = { apiVersion: 'example.dev/v1', kind: 'Root', plural: 'roots', namespaced: true };
const Note: KindRef = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
const obj = (
  kind: KindRef,
  name: string,
  extra: Partial<KubernetesObject['metadata']> = {},
): KubernetesObject => ({
  apiVersion: kind.apiVersion,
  kind: kind.kind,
  metadata: { namespace: 'ns', name, ...extra },
});

/** A controller over in-memory caches whose reconciler records the keys it gets. */
function running(
  watches: (notes: MemoryCache, channel: Channel) => Controller,
  cachedNotes: KubernetesObject[] = [],
) {
  const caches = new Map<string, MemoryCache>([
    [Root.kind, new MemoryCache([obj(Root, 'a'), obj(Root, 'b')])],
    [Note.kind, new MemoryCache(cachedNotes)],
  ]);
  const channel = new Channel();
  const controller = watches(caches.get(Note.kind)!, channel);
  const metrics = new RuntimeMetrics();
  const rt: ControllerRuntime = {
    cache: (kind) => caches.get(kind.kind) as unknown as Informer,
    log: createOperatorLogger('silent'),
    metrics,
  };
  const stop = new AbortController();
  const done = controller.run(rt, stop.signal, stop.signal);
  const halt = () => {
    stop.abort();
    return done;
  };
  return { caches, channel, controller, metrics, stop: halt };
}

/** A reconciler that records the keys it gets, in order. */
function recording(): { seen: string[]; reconciler: Reconciler } {
  const seen: string[] = [];
  return {
    seen,
    reconciler: {
      reconcile: async (key) => {
        seen.push(keyString(key));
        return { kind: 'done' };
      },
    },
  };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('Controller mapped watches', () => {
  it('enqueues the roots a watched object maps to, old and new on an update, and follows watches added while running', async () => {
    const { seen, reconciler } = recording();
    const world = running(
      (_notes, channel) =>
        new Controller({
          name: 'test',
          forKind: Root,
          reconciler,
          watches: [
            {
              kind: Note,
              map: (note) => [{ namespace: 'ns', name: note.metadata?.labels?.root ?? '' }],
            },
            { source: channel, map: () => [{ namespace: 'ns', name: 'everything' }] },
          ],
        }),
    );
    await until(() => seen.length === 2); // every root once at start
    expect(world.controller.running).toBe(true);
    seen.length = 0;

    const notes = world.caches.get(Note.kind)!;
    notes.set(obj(Note, 'n', { labels: { root: 'a' } }));
    await until(() => seen.includes('ns/a'));
    notes.set(obj(Note, 'n', { labels: { root: 'b' } }));
    await until(() => seen.filter((k) => k === 'ns/a').length === 2 && seen.includes('ns/b'));

    world.channel.send();
    await until(() => seen.includes('ns/everything'));

    const late = new Channel();
    world.controller.watch({ source: late, map: () => [{ namespace: 'ns', name: 'late' }] });
    late.send();
    await until(() => seen.includes('ns/late'));

    await world.stop();
    expect(world.controller.running).toBe(false);
  });

  it('counts what the caches held before it started as added: a root with no object of its own yet is still reconciled', async () => {
    const { seen, reconciler } = recording();
    const owner = {
      apiVersion: Root.apiVersion,
      kind: Root.kind,
      name: 'orphaned',
      uid: 'u',
      controller: true,
    };
    const world = running(
      () =>
        new Controller({
          name: 'test',
          forKind: Root,
          owns: [Note],
          reconciler,
          watches: [
            { kind: Note, map: (note) => [{ namespace: 'ns', name: note.metadata?.labels?.root ?? '' }] },
          ],
        }),
      [
        obj(Note, 'listed-early', { labels: { root: 'missing' } }),
        obj(Note, 'owned', { ownerReferences: [owner] }),
      ],
    );
    await until(() => ['ns/a', 'ns/b', 'ns/missing', 'ns/orphaned'].every((k) => seen.includes(k)));
    await world.stop();
  });

  it('counts the reconciles running now, so an idle controller shows as one', async () => {
    let release = () => {};
    const reconciler: Reconciler = {
      reconcile: (key) =>
        keyString(key) === 'ns/a'
          ? new Promise((resolve) => {
              release = () => resolve({ kind: 'done' });
            })
          : Promise.resolve({ kind: 'done' }),
    };
    const world = running(() => new Controller({ name: 'test', forKind: Root, reconciler, workers: 2 }));
    const active = async () => (await world.metrics.activeWorkers.get()).values[0]?.value;
    await until(() => world.controller.backlog === 1);
    expect(await active()).toBe(1);
    release();
    await until(() => world.controller.backlog === 0);
    expect(await active()).toBe(0);
    await world.stop();
  });
});
