/**
 * Writes under one field manager (docs/conventions.md#one-field-manager): forced server-side apply for children and for
 * status, skipped when the live object already says what we would apply, so steady state makes
 * no write requests; finalizer helpers with optimistic locking; owner references.
 */

import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import { Backoff } from '../../../common/backoff.ts';
import { appliedBy, desiredDigest } from './applied-fields.ts';
import type { KubeClient } from './client.ts';
import { type Clock, realClock } from './clock.ts';
import { describeResource, KubeApiError } from './errors.ts';
import type { KindRef, ObjectKey } from './kinds.ts';

/** The one field manager every write of the operator uses. */
export const FIELD_MANAGER = 'pixtral-operator';

/** What a write helper did. */
export interface WriteResult<T> {
  /** The object as the server returned it, or the unchanged `current` when nothing was sent. */
  object: T | undefined;
  /** Whether a request was sent. */
  written: boolean;
}

/** Options of `Writer`. */
export interface WriterOptions {
  client: KubeClient;
  /** Default `pixtral-operator`. */
  fieldManager?: string;
  clock?: Clock;
}

/** Applies children and status, adds and removes finalizers. */
export class Writer {
  readonly fieldManager: string;
  readonly #client: KubeClient;
  readonly #clock: Clock;

  constructor(options: WriterOptions) {
    this.#client = options.client;
    this.fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.#clock = options.clock ?? realClock;
  }

  /**
   * Server-side applies `desired` (forced: we take over fields another manager set) unless
   * `current` (usually from the cache) already holds every desired value and our manager owns
   * no field that `desired` dropped. `desired` must hold only the fields we own.
   */
  async apply<T extends KubernetesObject>(
    kind: KindRef,
    desired: T,
    current?: T,
    signal?: AbortSignal,
  ): Promise<WriteResult<T>> {
    if (current && !needsApply(desired, current, this.fieldManager, ''))
      return { object: current, written: false };
    const object = await this.#client.apply<T>(kind, desired, {
      fieldManager: this.fieldManager,
      force: true,
      signal,
    });
    return { object, written: true };
  }

  /**
   * Applies `status` to the status subresource unless `current.status` already matches.
   * Only the fields in `status` are owned by us; fields others set stay.
   */
  async applyStatus<T extends KubernetesObject>(
    kind: KindRef,
    current: T,
    status: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<WriteResult<T>> {
    const patch = {
      apiVersion: kind.apiVersion,
      kind: kind.kind,
      metadata: { name: current.metadata?.name, namespace: current.metadata?.namespace },
      status,
    };
    if (!needsApply(patch, current, this.fieldManager, 'status')) return { object: current, written: false };
    const object = await this.#client.apply<T>(kind, patch, {
      fieldManager: this.fieldManager,
      force: true,
      subresource: 'status',
      signal,
    });
    return { object, written: true };
  }

  /** Adds `finalizer` unless present; retries optimistic-lock conflicts with a fresh read. */
  ensureFinalizer<T extends KubernetesObject>(
    kind: KindRef,
    current: T,
    finalizer: string,
    signal?: AbortSignal,
  ): Promise<WriteResult<T>> {
    return this.#editFinalizers(kind, current, signal, (list) =>
      list.includes(finalizer) ? undefined : [...list, finalizer],
    );
  }

  /** Removes `finalizer` if present (others' finalizers are kept); retries conflicts; an object already gone is done. */
  async removeFinalizer<T extends KubernetesObject>(
    kind: KindRef,
    current: T,
    finalizer: string,
    signal?: AbortSignal,
  ): Promise<WriteResult<T>> {
    try {
      return await this.#editFinalizers(kind, current, signal, (list) =>
        list.includes(finalizer) ? list.filter((f) => f !== finalizer) : undefined,
      );
    } catch (err) {
      // Gone already (a stale cache sent a second reconcile after the removal that let the
      // object go): there is no finalizer left to remove, so this is done, not an error.
      if (err instanceof KubeApiError && err.code === 404) return { object: undefined, written: false };
      throw err;
    }
  }

  // Finalizers are edited with a JSON merge patch carrying resourceVersion (an optimistic lock)
  // rather than with apply: a list edit must not drop finalizers other actors added meanwhile.
  async #editFinalizers<T extends KubernetesObject>(
    kind: KindRef,
    current: T,
    signal: AbortSignal | undefined,
    edit: (list: string[]) => string[] | undefined,
  ): Promise<WriteResult<T>> {
    let live: T | undefined = current;
    const key: ObjectKey = {
      namespace: current.metadata?.namespace ?? '',
      name: current.metadata?.name ?? '',
    };
    return retryOnConflict(
      async (attempt) => {
        if (attempt > 0) live = await this.#client.get<T>(kind, key, signal);
        if (!live) return { object: undefined, written: false };
        const next = edit(live.metadata?.finalizers ?? []);
        if (!next) return { object: live, written: false };
        const object = await this.#client.mergePatch<T>(
          kind,
          key,
          { metadata: { finalizers: next, resourceVersion: live.metadata?.resourceVersion } },
          { signal },
        );
        return { object, written: true };
      },
      { clock: this.#clock, signal },
    );
  }
}

/**
 * Whether applying `desired` would change `current`: the values at the fields our manager's
 * applies own (for `subresource`, '' for the main resource) are not what `desired` holds, so a
 * value differs, another writer took a field over, or `desired` no longer has a field we set
 * earlier (apply would remove it). See applied-fields.ts.
 */
export function needsApply(
  desired: KubernetesObject,
  current: KubernetesObject,
  fieldManager: string,
  subresource: string,
): boolean {
  return appliedBy(current, fieldManager, subresource)?.digest !== desiredDigest(desired);
}

/**
 * Runs `fn` again on 409 Conflict, with client-go's `retry.DefaultRetry` shape: 5 attempts,
 * 10 ms doubling, 10% jitter. `fn` gets the attempt number (re-read on attempt > 0).
 */
export async function retryOnConflict<R>(
  fn: (attempt: number) => Promise<R>,
  options: { steps?: number; baseMs?: number; clock?: Clock; signal?: AbortSignal } = {},
): Promise<R> {
  const clock = options.clock ?? realClock;
  const backoff = new Backoff({
    durationMs: options.baseMs ?? 10,
    jitter: 0.1,
    steps: (options.steps ?? 5) - 1,
  });
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const delay = err instanceof KubeApiError && err.code === 409 ? backoff.next() : undefined;
      if (delay === undefined) throw err;
      await clock.sleep(delay, options.signal);
    }
  }
}

/** The object's controller ownerReference, if any (at most one may say `controller: true`). */
export function controllerRef(obj: KubernetesObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller);
}

/**
 * Throws unless `existing` is absent or controlled by `owner` (docs/conventions.md#ownership: never adopt what
 * another controller owns).
 */
export function assertAdoptable(existing: KubernetesObject | undefined, owner: KubernetesObject): void {
  const ref = existing && controllerRef(existing);
  if (!existing || !ref || ref.uid === owner.metadata?.uid) return;
  const what = describeResource({
    kind: existing.kind ?? 'object',
    namespace: existing.metadata?.namespace,
    name: existing.metadata?.name ?? '',
  });
  throw new Error(`${what} is controlled by ${ref.kind} ${ref.name}; refusing to take it over`);
}

/** Whether `obj` lists `finalizer`. */
export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}
