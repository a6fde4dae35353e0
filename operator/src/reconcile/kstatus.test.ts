import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/conditions.ts';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { withKstatusConditions } from './kstatus.ts';

/**
 * kstatus' generic rules for a custom resource, as cli-utils documents them for CRDs: deleting is
 * Terminating; a status older than the spec, or Reconciling True, is InProgress; Stalled True is
 * Failed; anything else is Current.
 */
function kstatus(obj: PixtralDeployment): 'Terminating' | 'InProgress' | 'Failed' | 'Current' {
  const meta = obj.metadata as { generation?: number; deletionTimestamp?: string };
  if (meta.deletionTimestamp) return 'Terminating';
  if ((obj.status?.observedGeneration ?? -1) < (meta.generation ?? 0)) return 'InProgress';
  const is = (type: string) => obj.status?.conditions?.some((c) => c.type === type && c.status === 'True');
  if (is('Reconciling')) return 'InProgress';
  if (is('Stalled')) return 'Failed';
  return 'Current';
}

// Objects the operator wrote during an end-to-end run (test/observability/capture-fixtures.ts).
const captured = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '../../../test/observability/fixtures/pixtral-deployments.json'),
    'utf8',
  ),
) as Record<string, PixtralDeployment>;
const fixture = (name: string): PixtralDeployment => {
  const obj = captured[name];
  if (!obj) throw new Error(`no fixture ${name}`);
  return structuredClone(obj);
};

describe('the status the operator writes, as kstatus (Flux) reads it', () => {
  it('is InProgress while the weights provision and the pods roll out', () => {
    expect(kstatus(fixture('progressing-ProvisioningWeights'))).toBe('InProgress');
    expect(kstatus(fixture('progressing-Deploying'))).toBe('InProgress');
  });

  it('is Current once the deployment is Ready', () => {
    expect(kstatus(fixture('ready'))).toBe('Current');
  });

  it('is Failed when something needs a human: no free GPU, no node of the type, failed weights', () => {
    expect(kstatus(fixture('degraded-insufficient-gpu'))).toBe('Failed');
    expect(kstatus(fixture('degraded-unschedulable'))).toBe('Failed');
    expect(kstatus(fixture('degraded-weights-failed'))).toBe('Failed');
  });

  it('is InProgress again when the spec changed and the operator has not seen it yet', () => {
    const edited = fixture('ready');
    edited.metadata.generation = (edited.status?.observedGeneration ?? 0) + 1;
    expect(kstatus(edited)).toBe('InProgress');
  });

  it('is Terminating while being deleted', () => {
    const deleting = fixture('ready');
    (deleting.metadata as { deletionTimestamp?: string }).deletionTimestamp = '2026-12-07T05:00:00Z';
    expect(kstatus(deleting)).toBe('Terminating');
  });
});

describe('withKstatusConditions', () => {
  const now = new Date('2026-12-07T05:00:00Z');
  const without = (name: string): Condition[] =>
    (fixture(name).status?.conditions ?? []).filter((c) => c.type !== 'Reconciling' && c.type !== 'Stalled');

  it('derives Reconciling from Progressing and Stalled from Degraded, with their reasons', () => {
    const stalled = withKstatusConditions(without('degraded-insufficient-gpu'), 1, now);
    expect(stalled.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'InsufficientGPU',
    });
    expect(stalled.find((c) => c.type === 'Reconciling')).toMatchObject({
      status: 'False',
      reason: 'InsufficientGPU',
    });
    const working = withKstatusConditions(without('progressing-ProvisioningWeights'), 1, now);
    expect(working.find((c) => c.type === 'Reconciling')).toMatchObject({
      status: 'True',
      reason: 'WeightsProvisioning',
    });
    expect(working.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'False',
      reason: 'AsExpected',
    });
  });

  it('changes nothing when re-run on what it wrote (steady state writes nothing)', () => {
    for (const name of ['ready', 'degraded-weights-failed', 'progressing-Deploying']) {
      const conditions = fixture(name).status?.conditions ?? [];
      const generation = fixture(name).status?.observedGeneration ?? 0;
      expect(withKstatusConditions(conditions, generation, new Date('2027-01-01T00:00:00Z')), name).toEqual(
        conditions,
      );
    }
  });
});
