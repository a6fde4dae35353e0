/**
 * Table tests of the weights-cache reconciler: one shared PVC and Job per model and namespace,
 * created for the first user, kept the same size for every later one, released after the last.
 * test/e2e/pixtral-deployment.test.ts runs the same against a real API server.
 */
import type { V1Job, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { anOperatorConfig, aPixtralDeployment } from '../../../test/fixtures/pixtral-deployment.ts';
import { World } from '../../../test/fixtures/reconcile-world.ts';
import { cacheKeyOf, cacheUsers } from './weights-cache.ts';

const NOW = new Date('2026-12-01T10:00:00Z');
const cr = aPixtralDeployment();
const other = aPixtralDeployment({}, { name: 'other', uid: '11111111-2222-4333-8444-555555555555' });
const deleting = (x: typeof cr) => ({ ...x, metadata: { ...x.metadata, deletionTimestamp: NOW } });
const failed = (job: V1Job, at: string): V1Job => ({
  ...job,
  status: {
    conditions: [
      { type: 'Failed', status: 'True', lastTransitionTime: new Date(at), reason: 'BackoffLimitExceeded' },
    ],
  },
});
const complete = (job: V1Job): V1Job => ({
  ...job,
  status: {
    conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: new Date('2026-12-01T09:59:00Z') }],
  },
});

/** A world whose cache exists (PVC and Job), shared by `cr` and `other`. */
async function sharedCache(): Promise<{ pvc: V1PersistentVolumeClaim; job: V1Job }> {
  const world = new World({ cr, objects: [other], now: NOW });
  await world.reconcile();
  return { pvc: world.find('PersistentVolumeClaim', 'weights-'), job: world.find('Job', 'weights-') };
}

describe('weights cache: one per model and namespace', () => {
  it('is created once for all its users, under the one field manager, naming none of them', async () => {
    const world = new World({ cr, objects: [other], now: NOW });
    await world.reconcile();
    const writes = world.applies.filter((a) => a.kind === 'PersistentVolumeClaim' || a.kind === 'Job');
    expect(writes.map((w) => [w.kind, w.manager])).toEqual([
      ['PersistentVolumeClaim', 'pixtral-operator'],
      ['Job', 'pixtral-operator'],
    ]);
    const pvc = world.find<V1PersistentVolumeClaim>('PersistentVolumeClaim', 'weights-');
    expect(pvc.metadata?.ownerReferences).toBeUndefined();
    expect(world.find<V1Job>('Job', 'weights-').metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'PersistentVolumeClaim', name: pvc.metadata?.name, controller: true }),
    ]);

    // The other user's turn, and any later one: nothing to write.
    world.clear();
    await world.reconcileCache(pvc.metadata!.name!);
    expect(world.applies).toEqual([]);
  });

  it('counts its users from the deployments: oldest first, not those being deleted or of another model', () => {
    const config = anOperatorConfig();
    const older = aPixtralDeployment({}, { name: 'older' });
    older.metadata.creationTimestamp = new Date('2026-01-01T00:00:00Z');
    const newer = aPixtralDeployment({}, { name: 'newer' });
    newer.metadata.creationTimestamp = new Date('2026-06-01T00:00:00Z');
    const gone = deleting(aPixtralDeployment({}, { name: 'gone' }));
    const name = cacheKeyOf(older, config)!.name;
    const users = cacheUsers([newer, gone, older], config, name).map((x) => x.metadata.name);
    expect(users).toEqual(['older', 'newer']);
    expect(cacheUsers([newer, older], config, 'weights-another-model-0123abcd')).toEqual([]);
  });
});

describe('weights cache: release', () => {
  it('deletes the Job, then the PVC, after its last user is deleted', async () => {
    const { pvc, job } = await sharedCache();
    const world = new World({ cr: deleting(cr), objects: [pvc, job], now: NOW });
    await world.reconcileCache(pvc.metadata!.name!);
    expect(world.deletes).toEqual([
      { kind: 'Job', name: job.metadata?.name },
      { kind: 'PersistentVolumeClaim', name: pvc.metadata?.name },
    ]);
  });

  it('keeps it while another deployment uses it', async () => {
    const { pvc, job } = await sharedCache();
    const world = new World({ cr: deleting(cr), objects: [other, pvc, job], now: NOW });
    await world.reconcileCache(pvc.metadata!.name!);
    expect(world.deletes).toEqual([]);
  });

  it('lets a PVC someone deleted go (its Jobs first) and makes no new one until it is gone', async () => {
    const { pvc, job } = await sharedCache();
    const terminating = { ...pvc, metadata: { ...pvc.metadata, deletionTimestamp: NOW } };
    const world = new World({ cr, objects: [terminating, job], now: NOW });
    await world.reconcileCache(pvc.metadata!.name!);
    expect(world.deletes).toEqual([{ kind: 'Job', name: job.metadata?.name }]);
    expect(world.applies).toEqual([]);
  });
});

describe('weights cache: retries', () => {
  it('keeps failed attempts on the PVC, and deletes the failed Job once the backoff has passed', async () => {
    const { pvc, job } = await sharedCache();
    const world = new World({ cr, objects: [pvc, failed(job, '2026-12-01T09:59:50Z')], now: NOW });
    const waiting = await world.reconcileCache(pvc.metadata!.name!);
    expect(waiting).toMatchObject({ kind: 'requeueAfter' });
    expect(world.deletes).toEqual([]);
    const annotated = world.find<V1PersistentVolumeClaim>('PersistentVolumeClaim', 'weights-');
    expect(annotated.metadata?.annotations).toMatchObject({
      'pixtral.dev/weights-attempts': '1',
      'pixtral.dev/weights-last-failure': '2026-12-01T09:59:50Z',
    });
    // Every sharer reports the same count, read from the PVC.
    await world.reconcile();
    expect(world.status?.weights).toMatchObject({ attempts: 1 });

    const later = new World({
      cr,
      objects: [annotated, failed(job, '2026-12-01T09:59:50Z')],
      now: new Date('2026-12-01T10:01:00Z'),
    });
    await later.reconcileCache(pvc.metadata!.name!);
    expect(later.deletes).toEqual([{ kind: 'Job', name: job.metadata?.name }]);
    // The failure stays counted: the next attempt's backoff is longer.
    expect(later.applies).toEqual([]);
  });

  it('forgets the attempts after a success, and deletes Jobs of an earlier template', async () => {
    const { pvc, job } = await sharedCache();
    const earlier = { ...job, metadata: { ...job.metadata, name: 'weights-0123456789' } };
    const world = new World({ cr, objects: [pvc, failed(job, '2026-12-01T09:59:50Z'), earlier], now: NOW });
    await world.reconcileCache(pvc.metadata!.name!);
    expect(world.deletes).toEqual([]);

    world.set(complete(job));
    world.clear();
    await world.reconcileCache(pvc.metadata!.name!);
    expect(world.deletes).toEqual([{ kind: 'Job', name: 'weights-0123456789' }]);
    const applied = world.applies.find((a) => a.kind === 'PersistentVolumeClaim')?.object;
    expect(applied?.metadata?.annotations).not.toHaveProperty('pixtral.dev/weights-attempts');
  });
});

describe('weights cache: stalls', () => {
  it('notes why provisioning is stuck on the PVC, once for all users, who report it without reading Events', async () => {
    const { pvc, job } = await sharedCache();
    const pending = { ...pvc, status: { phase: 'Pending' } };
    const warning = {
      metadata: { name: 'claim.1', namespace: 'team-a' },
      involvedObject: { uid: pvc.metadata?.uid },
      type: 'Warning',
      reason: 'ProvisioningFailed',
      message: 'storageclass.storage.k8s.io "fast-ssd" not found',
      lastTimestamp: new Date('2026-12-01T09:59:30Z'),
    };
    const world = new World({ cr, objects: [pending, job], events: [warning], now: NOW });
    // Looked at again soon: a Pending claim's Events change nothing the operator watches.
    expect(await world.reconcileCache(pvc.metadata!.name!)).toEqual({ kind: 'requeueAfter', ms: 10_000 });
    const noted = world.find<V1PersistentVolumeClaim>('PersistentVolumeClaim', 'weights-');
    expect(JSON.parse(noted.metadata?.annotations?.['pixtral.dev/weights-stall'] ?? '{}')).toMatchObject({
      reason: 'VolumePending',
      message: expect.stringContaining('"fast-ssd" not found'),
    });

    const sharer = new World({ cr: other, objects: [cr, noted, job], now: NOW });
    await sharer.reconcileDeployment();
    expect(sharer.condition('Degraded')).toMatchObject({ status: 'True', reason: 'VolumePending' });
  });

  it('tells every user when the API server refuses the cache for good, and asks again later', async () => {
    const world = new World({
      cr,
      refuse: {
        kind: 'PersistentVolumeClaim',
        name: cacheKeyOf(cr, anOperatorConfig())!.name,
        code: 403,
        message: 'exceeded quota: storage, requested: requests.storage=25Gi, used: 0, limited: 10Gi',
      },
      now: NOW,
    });
    expect(await world.reconcileCache(cacheKeyOf(cr, anOperatorConfig())!.name)).toEqual({
      kind: 'requeueAfter',
      ms: 60_000,
    });
    await world.reconcileDeployment();
    expect(world.condition('Degraded')).toMatchObject({
      status: 'True',
      reason: 'ApplyFailed',
      message: expect.stringContaining('exceeded quota: storage'),
    });
    expect(world.condition('Degraded')?.message).toMatch(
      /^The API server refused PersistentVolumeClaim team-a\/weights-/,
    );
  });
});
