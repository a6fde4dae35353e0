/**
 * A cache held in memory and filled by hand: the same reads and events as an `Informer`, without
 * an API server. For table tests of reconcilers and controllers: given objects in, then `set` and
 * `remove` play the watch events an informer would deliver.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { controllerRef } from './apply.ts';
import type { Cache, InformerEvent } from './informer.ts';
import { keyString, objectKey } from './kinds.ts';

export class MemoryCache<T extends KubernetesObject = KubernetesObject> implements Cache<T> {
  readonly synced = true;
  readonly #store = new Map<string, T>();
  readonly #handlers = new Set<(event: InformerEvent<T>) => void>();

  constructor(objects: Iterable<T> = []) {
    for (const obj of objects) this.#store.set(keyString(objectKey(obj)), obj);
  }

  get(namespace: string, name: string): T | undefined {
    return this.#store.get(keyString({ namespace, name }));
  }

  list(namespace?: string): T[] {
    const all = [...this.#store.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata?.namespace ?? '') === namespace);
  }

  byOwner(uid: string): T[] {
    return this.list().filter((o) => controllerRef(o)?.uid === uid);
  }

  subscribe(handler: (event: InformerEvent<T>) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** Adds or replaces `obj` and tells subscribers (an `add` or an `update`). */
  set(obj: T): void {
    const key = keyString(objectKey(obj));
    const old = this.#store.get(key);
    this.#store.set(key, obj);
    this.#emit(old ? { type: 'update', object: obj, old } : { type: 'add', object: obj });
  }

  /** Removes `obj` (by its key) and tells subscribers. */
  remove(obj: T): void {
    const key = keyString(objectKey(obj));
    const old = this.#store.get(key);
    if (!old) return;
    this.#store.delete(key);
    this.#emit({ type: 'delete', object: old });
  }

  #emit(event: InformerEvent<T>): void {
    for (const handler of this.#handlers) handler(event);
  }
}
