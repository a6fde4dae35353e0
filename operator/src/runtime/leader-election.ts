/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: try to
 * acquire every `retryPeriodMs`; a lease counts as expired when its record has not changed for
 * `leaseDurationMs` as measured on *our* monotonic clock (so wall-clock skew between replicas
 * does not matter); the leader renews every `retryPeriodMs` and gives up leadership when no
 * renewal succeeded within `renewDeadlineMs`. client-node has no elector, hence this one.
 * Like client-go's, it gives no fencing: a short overlap of two leaders is possible, which is
 * harmless because every write is an idempotent server-side apply.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeClient } from './client.ts';
import { type Clock, realClock } from './clock.ts';
import { KubeApiError } from './errors.ts';
import { microTime } from './events.ts';
import { BuiltinKinds } from './kinds.ts';
import type { RuntimeMetrics } from './metrics.ts';

/** Options of `LeaderElector`. Durations in ms; defaults are client-go's 15 s / 10 s / 2 s. */
export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name. */
  name: string;
  /** Unique per replica (pod name plus a random suffix). */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  wallClock?: () => Date;
  log?: Logger;
  metrics?: RuntimeMetrics;
}

type LeaseSpec = NonNullable<V1Lease['spec']>;

/** Acquires, renews and releases one Lease. */
export class LeaderElector {
  readonly identity: string;
  readonly #o: Required<Omit<LeaderElectorOptions, 'log' | 'metrics'>> &
    Pick<LeaderElectorOptions, 'log' | 'metrics'>;
  #lease: V1Lease | undefined;
  #observedRecord = '';
  #observedAt = 0;
  #leading = false;

  constructor(options: LeaderElectorOptions) {
    this.identity = options.identity;
    this.#o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      clock: realClock,
      wallClock: () => new Date(),
      ...options,
    };
    if (
      !(this.#o.renewDeadlineMs < this.#o.leaseDurationMs && this.#o.retryPeriodMs < this.#o.renewDeadlineMs)
    ) {
      throw new Error('Leader election needs retryPeriod < renewDeadline < leaseDuration');
    }
  }

  /** True while this instance holds the lease. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Resolves once this instance holds the lease; rejects with the signal's reason on abort. */
  async acquire(signal: AbortSignal): Promise<void> {
    const { clock, retryPeriodMs } = this.#o;
    for (;;) {
      signal.throwIfAborted();
      const acquired = await this.#tryAcquireOrRenew(signal).catch((err: unknown) => {
        if (!signal.aborted)
          this.#o.log?.warn({ err: (err as Error).message }, 'Failed to read or take leader lease');
        return false;
      });
      if (acquired) break;
      await clock.sleep(retryPeriodMs * (1 + 0.2 * Math.random()), signal);
    }
    this.#leading = true;
    this.#o.metrics?.leader.set(1);
    this.#o.log?.info(
      { lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.identity },
      'Acquired leader lease',
    );
  }

  /**
   * Renews until `signal` aborts (resolves) or a renewal deadline passes (resolves `lost`): the
   * caller must stop every writer at once when it does.
   */
  async holdUntilLost(signal: AbortSignal): Promise<'lost' | 'stopped'> {
    const { clock, retryPeriodMs, renewDeadlineMs } = this.#o;
    let lastRenew = clock.now();
    while (!signal.aborted) {
      try {
        await clock.sleep(retryPeriodMs, signal);
      } catch {
        break;
      }
      const deadline = AbortSignal.timeout(
        Math.max(1, Math.ceil(renewDeadlineMs - (clock.now() - lastRenew))),
      );
      const renewed = await this.#tryAcquireOrRenew(AbortSignal.any([signal, deadline])).catch(() => false);
      if (renewed) lastRenew = clock.now();
      else if (!signal.aborted && clock.now() - lastRenew >= renewDeadlineMs) {
        this.#leading = false;
        this.#o.metrics?.leader.set(0);
        this.#o.log?.error(
          { lease: `${this.#o.namespace}/${this.#o.name}` },
          'Lost leader lease: renewal deadline passed',
        );
        return 'lost';
      }
    }
    return 'stopped';
  }

  /** Gives the lease up (holder cleared) so a standby takes over without waiting it out. */
  async release(): Promise<void> {
    if (!this.#leading || !this.#lease?.spec) return;
    this.#leading = false;
    this.#o.metrics?.leader.set(0);
    const now = microTime(this.#o.wallClock());
    try {
      await this.#o.client.replace(BuiltinKinds.Lease, {
        ...this.#lease,
        spec: {
          ...this.#lease.spec,
          holderIdentity: undefined,
          leaseDurationSeconds: 1,
          renewTime: now as never,
          acquireTime: now as never,
        },
      });
      this.#o.log?.info({ lease: `${this.#o.namespace}/${this.#o.name}` }, 'Released leader lease');
    } catch (err) {
      this.#o.log?.warn({ err: (err as Error).message }, 'Failed to release leader lease');
    }
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { client, clock, namespace, name } = this.#o;
    const now = microTime(this.#o.wallClock());
    const leaseSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    // The leader renews from its last copy (one PUT); anyone else reads first.
    let lease = this.#leading ? this.#lease : undefined;
    if (!lease) {
      lease = await client.get<V1Lease>(BuiltinKinds.Lease, { namespace, name }, signal);
      if (!lease) {
        const spec: LeaseSpec = {
          holderIdentity: this.identity,
          leaseDurationSeconds: leaseSeconds,
          acquireTime: now as never,
          renewTime: now as never,
          leaseTransitions: 0,
        };
        try {
          this.#lease = await client.create<V1Lease>(
            BuiltinKinds.Lease,
            { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec },
            { signal },
          );
          this.#observe(this.#lease);
          return true;
        } catch (err) {
          if (err instanceof KubeApiError && err.code === 409) return false;
          throw err;
        }
      }
      this.#observe(lease);
      const holder = lease.spec?.holderIdentity;
      const durationMs = (lease.spec?.leaseDurationSeconds ?? leaseSeconds) * 1000;
      if (holder && holder !== this.identity && clock.now() - this.#observedAt < durationMs) return false;
    }
    const spec = lease.spec ?? {};
    const takingOver = spec.holderIdentity !== this.identity;
    const next: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: leaseSeconds,
        renewTime: now as never,
        acquireTime: (takingOver ? now : spec.acquireTime) as never,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver && spec.holderIdentity ? 1 : 0),
      },
    };
    try {
      this.#lease = await client.replace<V1Lease>(BuiltinKinds.Lease, next, { signal });
      this.#observe(this.#lease);
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 409) {
        // Someone else wrote the lease: read it again on the next attempt.
        this.#lease = undefined;
        return false;
      }
      throw err;
    }
  }

  #observe(lease: V1Lease): void {
    const record = JSON.stringify([
      lease.spec?.holderIdentity,
      lease.spec?.renewTime,
      lease.spec?.leaseDurationSeconds,
    ]);
    if (record !== this.#observedRecord) {
      this.#observedRecord = record;
      this.#observedAt = this.#o.clock.now();
    }
  }
}
