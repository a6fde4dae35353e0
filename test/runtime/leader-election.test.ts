/**
 * Leader election against a real API server: electors in-process (takeover, release, loss of
 * the link), then two operator processes of which only the leader reconciles, and the standby
 * takes over after the leader is killed with SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOperatorLogger,
  KubeClient,
  LeaderElector,
  LeadershipLostError,
  loadRuntimeConfig,
  Manager,
  WRITE_VERBS,
} from '../../operator/src/runtime/index.ts';
import { type ControlPlane, eventually, freshNamespace, startControlPlane } from '../harness/index.ts';
import { auditSince, kubeConfigVia, Toys } from './cluster.ts';
import { type Relay, startRelay } from './tcp-relay.ts';
import { addToyController } from './toy.ts';

const LEASE = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

let cp: ControlPlane;
let relay: Relay;
let ns: string;
let toys: Toys;

beforeAll(async () => {
  cp = await startControlPlane({ auditLog: true, verbose: false });
  relay = await startRelay(Number(new URL(cp.apiServerUrl).port));
  ns = await freshNamespace(cp.kubeConfig(), 'leader');
  toys = new Toys(cp);
});

afterAll(async () => {
  await relay?.close();
  await cp?.stop();
});

function elector(identity: string, name: string, via?: Relay): LeaderElector {
  const kubeConfig = via ? kubeConfigVia(cp, via.port) : cp.kubeConfig();
  return new LeaderElector({
    client: new KubeClient({ kubeConfig }),
    namespace: ns,
    name,
    identity,
    ...LEASE,
  });
}

describe('LeaderElector', () => {
  it('lets one instance lead; a standby takes over within the lease duration after the leader dies', async () => {
    const first = elector('first', 'takeover');
    const second = elector('second', 'takeover');
    await first.acquire(AbortSignal.timeout(10_000));
    const firstHolds = new AbortController();
    const holding = first.holdUntilLost(firstHolds.signal);
    const secondWaits = second.acquire(AbortSignal.timeout(30_000));
    await new Promise((r) => setTimeout(r, LEASE.leaseDurationMs * 1.5)); // longer than a lease: renewals keep it
    expect(second.leading).toBe(false);

    firstHolds.abort(); // dies: stops renewing, never releases
    expect(await holding).toBe('stopped');
    const diedAt = performance.now();
    await secondWaits;
    const takeoverMs = performance.now() - diedAt;
    expect(second.leading).toBe(true);
    expect(takeoverMs).toBeLessThan(LEASE.leaseDurationMs + 2 * LEASE.retryPeriodMs + 1000);
  }, 60_000);

  it('hands over at once when the leader releases the lease', async () => {
    const first = elector('first', 'release');
    const second = elector('second', 'release');
    await first.acquire(AbortSignal.timeout(10_000));
    const secondWaits = second.acquire(AbortSignal.timeout(30_000));
    await first.release();
    const releasedAt = performance.now();
    await secondWaits;
    expect(performance.now() - releasedAt).toBeLessThan(LEASE.leaseDurationMs);
  }, 60_000);

  it('reports the lease lost once renewals fail for the renew deadline', async () => {
    const leader = elector('cut-off', 'lost', relay);
    await leader.acquire(AbortSignal.timeout(10_000));
    const holding = leader.holdUntilLost(AbortSignal.timeout(30_000));
    relay.cut();
    try {
      expect(await holding).toBe('lost');
      expect(leader.leading).toBe(false);
    } finally {
      relay.restore();
    }
  }, 60_000);
});

describe('Manager under leader election', () => {
  it('stops reconciling and rejects with LeadershipLostError when it cannot renew', async () => {
    const config = loadRuntimeConfig(
      [
        ...[
          '--health-port',
          '0',
          '--health-host',
          '127.0.0.1',
          '--identity',
          'loser',
          '--leader-election-namespace',
          ns,
        ],
        ...[
          '--leader-election-id',
          'manager-lost',
          '--lease-duration-ms',
          '3000',
          '--renew-deadline-ms',
          '2000',
          '--retry-period-ms',
          '500',
        ],
      ],
      {},
    );
    const mgr = new Manager({
      config,
      kubeConfig: kubeConfigVia(cp, relay.port),
      log: createOperatorLogger('silent'),
    });
    const controller = addToyController(mgr);
    const started = mgr.start(AbortSignal.timeout(60_000));
    await eventually(() => expect(controller.running).toBe(true));
    relay.cut();
    try {
      await expect(started).rejects.toBeInstanceOf(LeadershipLostError);
      expect(controller.running).toBe(false);
    } finally {
      relay.restore();
    }
  }, 60_000);
});

interface OperatorProcess {
  identity: string;
  child: ChildProcess;
  healthUrl: Promise<string>;
}

function startOperator(identity: string): OperatorProcess {
  const child = spawn(
    process.execPath,
    [
      'test/runtime/toy-operator.ts',
      ...[
        '--kubeconfig',
        cp.kubeconfigPath,
        '--health-port',
        '0',
        '--health-host',
        '127.0.0.1',
        '--identity',
        identity,
      ],
      ...[
        '--leader-election-namespace',
        ns,
        '--leader-election-id',
        'toy-operator',
        '--lease-duration-ms',
        '10000',
      ],
      // Generous against CPU starvation: with the real-node suite beside it, a 3 s renew deadline
      // once lost the lease mid-test and moved leadership under the test's feet.
      ...['--renew-deadline-ms', '8000', '--retry-period-ms', '1000', '--log-level', 'info'],
    ],
    { cwd: `${import.meta.dirname}/../..`, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const healthUrl = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`operator ${identity} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const record = JSON.parse(line) as { msg?: string; health?: string };
        if (record.msg === 'Started manager' && record.health) resolve(record.health);
      } catch {
        // not a log line
      }
    });
  });
  return { identity, child, healthUrl };
}

async function metric(op: OperatorProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${await op.healthUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      if (labels && !line.includes(labels)) continue;
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

describe('two operator processes', () => {
  const operators: OperatorProcess[] = [];

  afterAll(() => {
    for (const op of operators) op.child.kill('SIGKILL');
  });

  it('only the leader reconciles; the standby takes over after the leader is SIGKILLed', async () => {
    const auditOffset = (await stat(cp.auditLogPath!)).size;
    operators.push(startOperator('op-a'), startOperator('op-b'));
    await Promise.all(operators.map((op) => op.healthUrl));
    const leader = await eventually(async () => {
      const leading = [];
      for (const op of operators)
        if ((await metric(op, 'leader_election_master_status')) === 1) leading.push(op);
      expect(leading.length).toBe(1);
      return leading[0]!;
    });
    const standby = operators.find((op) => op !== leader)!;

    await Promise.all(['p', 'q'].map((n) => toys.createRoot(ns, n, n)));
    await eventually(() => Promise.all(['p', 'q'].map((n) => toys.expectConverged(ns, n, n))));
    expect(await metric(leader, 'controller_runtime_reconcile_total')).toBeGreaterThan(0);
    expect(await metric(standby, 'controller_runtime_reconcile_total')).toBe(0);
    const writers = new Set(
      (await auditSince(cp.auditLogPath!, auditOffset))
        .filter(
          (r) =>
            WRITE_VERBS.has(r.verb) &&
            r.objectRef?.resource !== 'leases' &&
            r.userAgent?.startsWith('pixtral-operator/'),
        )
        .map((r) => r.userAgent!.split(' ')[0]),
    );
    expect([...writers]).toEqual([`pixtral-operator/${leader.identity}`]);

    leader.child.kill('SIGKILL');
    const killedAt = performance.now();
    await toys.createRoot(ns, 'r', 'after-failover');
    await eventually(() => toys.expectConverged(ns, 'r', 'after-failover'), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const failoverMs = performance.now() - killedAt;
    expect(await metric(standby, 'leader_election_master_status')).toBe(1);
    expect(failoverMs).toBeLessThan(10_000 + 2 * 1000 + 3000); // lease + retries + first reconcile
  }, 120_000);

  it('a SIGTERMed leader releases the lease and exits 0', async () => {
    const leader = operators.find((op) => op.child.exitCode === null && op.child.signalCode === null)!;
    const exited = new Promise<number | null>((resolve) =>
      leader.child.once('exit', (code) => resolve(code)),
    );
    leader.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lease = await cp.kubectl([
      'get',
      'lease',
      '-n',
      ns,
      'toy-operator',
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ]);
    expect(lease.stdout).toBe('');
  }, 60_000);
});
