/**
 * Records Kubernetes Events (events.k8s.io/v1) for what a user must see, folding repeats the
 * way client-go's event broadcaster does: the first occurrence creates an Event, repeats within
 * `repeatWindowMs` bump `series.count`, written at most once per `seriesIntervalMs`, so a hot
 * loop cannot flood the API server. client-node ships no recorder, hence this one.
 */
import { hash, randomBytes } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeClient } from './client.ts';
import { type Clock, realClock } from './clock.ts';
import { BuiltinKinds } from './kinds.ts';

/** Normal for progress, Warning for what needs the user's attention. */
export type EventType = 'Normal' | 'Warning';

/** Options of `EventRecorder`. */
export interface EventRecorderOptions {
  client: KubeClient;
  /** `reportingController`, e.g. `pixtral.dev/operator`. */
  controller: string;
  /** `reportingInstance`: this replica's identity. */
  instance: string;
  clock?: Clock;
  /** Wall-clock time for `eventTime` (injectable for tests). Default `() => new Date()`. */
  wallClock?: () => Date;
  log?: Logger;
  /** Repeats within this window (ms) join the first Event's series. Default 600000. */
  repeatWindowMs?: number;
  /** Minimum gap (ms) between two series updates of one Event. Default 60000. */
  seriesIntervalMs?: number;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
  firstAt: number;
  writtenAt: number;
}

/** Posts Events about objects, de-duplicating repeats. */
export class EventRecorder {
  readonly #o: Required<Omit<EventRecorderOptions, 'log'>> & { log?: Logger };
  readonly #seen = new Map<string, Seen>();

  constructor(options: EventRecorderOptions) {
    this.#o = {
      clock: realClock,
      wallClock: () => new Date(),
      repeatWindowMs: 600_000,
      seriesIntervalMs: 60_000,
      ...options,
    };
  }

  /**
   * Records that `action` happened to `regarding` for `reason` (CamelCase), with a `note` a
   * user can act on. Never throws: a lost Event must not fail a reconcile; failures are logged.
   * Resolves whether a request was sent.
   */
  async record(
    regarding: KubernetesObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
  ): Promise<boolean> {
    const meta = regarding.metadata ?? {};
    const namespace = meta.namespace || 'default';
    // A digest, not the text: a key is kept for the whole window, and most of it is the note.
    const key = hash(
      'sha1',
      [meta.uid ?? `${namespace}/${meta.name}`, type, reason, action, note].join('\u0000'),
      'base64',
    );
    const now = this.#o.clock.now();
    this.#gc(now);
    const seen = this.#seen.get(key);
    try {
      if (seen && now - seen.firstAt < this.#o.repeatWindowMs) {
        seen.count++;
        if (now - seen.writtenAt < this.#o.seriesIntervalMs) return false;
        await this.#o.client.mergePatch(
          BuiltinKinds.Event,
          { namespace: seen.namespace, name: seen.name },
          { series: { count: seen.count, lastObservedTime: microTime(this.#o.wallClock()) } },
        );
        seen.writtenAt = now;
        return true;
      }
      const name = `${(meta.name ?? 'object').slice(0, 200)}.${randomBytes(8).toString('hex')}`;
      await this.#o.client.create(BuiltinKinds.Event, {
        apiVersion: BuiltinKinds.Event.apiVersion,
        kind: BuiltinKinds.Event.kind,
        metadata: { name, namespace },
        eventTime: microTime(this.#o.wallClock()),
        reportingController: this.#o.controller,
        reportingInstance: this.#o.instance,
        action,
        reason,
        type,
        note: note.slice(0, 1024),
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
        },
      } as KubernetesObject);
      this.#seen.set(key, { namespace, name, count: 1, firstAt: now, writtenAt: now });
      return true;
    } catch (err) {
      this.#o.log?.warn(
        { err: (err as Error).message, reason, regarding: `${namespace}/${meta.name}` },
        'Failed to record Event',
      );
      return false;
    }
  }

  #gc(now: number): void {
    // A Map iterates in insertion order, which is `firstAt` order to within one request's time
    // (an entry is added when its Event was created), so the expired entries are a prefix: stop
    // at the first live one rather than walk thousands on every Event.
    for (const [key, seen] of this.#seen) {
      if (now - seen.firstAt < this.#o.repeatWindowMs) return;
      this.#seen.delete(key);
    }
  }
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
