import { describe, expect, it } from 'vitest';
import {
  CONDITION_REASON_PATTERN,
  type Condition,
  ConditionType,
  Reason,
  setCondition,
} from './conditions.ts';

const t0 = new Date('2026-01-02T03:04:05.678Z');
const t1 = new Date('2026-01-02T04:00:00.000Z');

describe('setCondition', () => {
  it('appends a new condition stamped with now, at second precision', () => {
    const next = setCondition(
      [],
      { type: 'Available', status: 'False', reason: 'ModelLoading', message: 'Loading.' },
      t0,
    );
    expect(next).toEqual([
      {
        type: 'Available',
        status: 'False',
        reason: 'ModelLoading',
        message: 'Loading.',
        lastTransitionTime: '2026-01-02T03:04:05Z',
      },
    ]);
  });

  it('keeps lastTransitionTime when the status does not flip, but takes the new reason and message', () => {
    const first = setCondition(
      [],
      { type: 'Progressing', status: 'True', reason: 'RollingOut', message: 'a' },
      t0,
    );
    const next = setCondition(
      first,
      { type: 'Progressing', status: 'True', reason: 'Scaling', message: 'b', observedGeneration: 2 },
      t1,
    );
    expect(next).toEqual([
      {
        type: 'Progressing',
        status: 'True',
        reason: 'Scaling',
        message: 'b',
        observedGeneration: 2,
        lastTransitionTime: '2026-01-02T03:04:05Z',
      },
    ]);
  });

  it('moves lastTransitionTime when the status flips', () => {
    const first = setCondition(
      [],
      { type: 'Available', status: 'False', reason: 'ModelLoading', message: 'a' },
      t0,
    );
    const next = setCondition(
      first,
      { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'b' },
      t1,
    );
    expect(next[0]?.lastTransitionTime).toBe('2026-01-02T04:00:00Z');
  });

  it('leaves its input and the other conditions untouched', () => {
    const input: Condition[] = [
      {
        type: 'WeightsReady',
        status: 'True',
        reason: 'WeightsVerified',
        message: 'ok',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
      {
        type: 'Available',
        status: 'False',
        reason: 'ModelLoading',
        message: 'a',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ];
    const frozen = structuredClone(input);
    const next = setCondition(
      input,
      { type: 'Available', status: 'True', reason: 'DeploymentReady', message: 'b' },
      t1,
    );
    expect(input).toEqual(frozen);
    expect(next[0]).toEqual(input[0]);
    expect(next.map((c) => c.type)).toEqual(['WeightsReady', 'Available']);
  });

  it('is idempotent: applying the same update twice gives deep-equal conditions', () => {
    const update = {
      type: 'Degraded',
      status: 'True',
      reason: 'InsufficientGPU',
      message: 'No H100 node is free.',
    } as const;
    const once = setCondition([], update, t0);
    expect(setCondition(once, update, t1)).toEqual(once);
  });
});

describe('condition vocabulary', () => {
  it('has the four types of the design, Ready for kubectl wait, and Reconciling and Stalled for kstatus', () => {
    expect(Object.values(ConditionType).sort()).toEqual([
      'Available',
      'Degraded',
      'Progressing',
      'Ready',
      'Reconciling',
      'Stalled',
      'WeightsReady',
    ]);
  });

  it.each(Object.values(Reason))('reason %s is CamelCase and fits metav1.Condition', (reason) => {
    expect(reason).toMatch(/^[A-Z][A-Za-z0-9]*$/);
    expect(reason).toMatch(CONDITION_REASON_PATTERN);
  });
});
