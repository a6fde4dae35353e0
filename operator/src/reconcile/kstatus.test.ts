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

// Objects the operator wrote during an end-to-end run, before Reconciling and Stalled existed.
const captured = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '../../../test/observability/fixtures/pixtral-deployments.json'),
    'utf8',
  ),
) as Record<string, PixtralDeployment>;
const now = new Date('2026-12-07T05:00:00Z');

function withKstatus(name: string): PixtralDeployment {
  const obj = structuredClone(captured[name]) as PixtralDeployment;
  const status = obj.status ?? {};
  status.conditions = withKstatusConditions(
    (status.conditions ?? []) as Condition[],
    status.observedGeneration ?? 0,
    now,
  );
  return obj;
}

describe('Reconciling and Stalled, as kstatus (Flux) reads them', () => {
  it('are InProgress while the weights provision and the pods roll out', () => {
    expect(captured['progressing-ProvisioningWeights']).toBeDefined();
    expect(kstatus(captured['progressing-ProvisioningWeights'] as PixtralDeployment)).toBe('Current');
    expect(kstatus(withKstatus('progressing-ProvisioningWeights'))).toBe('InProgress');
    expect(kstatus(withKstatus('progressing-Deploying'))).toBe('InProgress');
  });

  it('are Current once the deployment is Ready', () => {
    expect(kstatus(withKstatus('ready'))).toBe('Current');
  });

  it('are Failed when something needs a human: no GPUs, failed weights', () => {
    expect(kstatus(withKstatus('degraded-insufficient-gpu'))).toBe('Failed');
    expect(kstatus(withKstatus('degraded-weights-failed'))).toBe('Failed');
  });

  it('are InProgress again when the spec changed and the operator has not seen it yet', () => {
    const edited = withKstatus('ready');
    edited.metadata.generation = (edited.status?.observedGeneration ?? 0) + 1;
    expect(kstatus(edited)).toBe('InProgress');
  });

  it('carry the reason of the condition they mirror, and write nothing new when re-run', () => {
    const stalled = withKstatus('degraded-insufficient-gpu').status?.conditions ?? [];
    expect(stalled.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'InsufficientGPU',
    });
    expect(stalled.find((c) => c.type === 'Reconciling')).toMatchObject({
      status: 'False',
      reason: 'InsufficientGPU',
    });
    const later = new Date('2026-12-07T06:00:00Z');
    expect(withKstatusConditions(stalled, 1, later)).toEqual(stalled);
  });
});
