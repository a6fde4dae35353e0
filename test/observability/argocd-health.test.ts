/**
 * The Argo CD health check for PixtralDeployment (charts/pixtral-operator/files/argocd-health.lua),
 * run by a real Lua 5.1 interpreter against objects captured from end-to-end runs of the operator
 * (fixtures/pixtral-deployments.json), and the copy of it the chart's README tells users to paste.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PixtralDeployment } from '../../operator/src/api/pixtral-deployment.ts';
import { runHealthCheck } from './lua.ts';

const CHART = join(import.meta.dirname, '..', '..', 'charts', 'pixtral-operator');
const SCRIPT = join(CHART, 'files', 'argocd-health.lua');
const captured = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'pixtral-deployments.json'), 'utf8'),
) as Record<string, PixtralDeployment>;

const health = (obj: unknown) => runHealthCheck(SCRIPT, obj);
const fixture = (name: string): PixtralDeployment => {
  const obj = captured[name];
  if (!obj) throw new Error(`no fixture ${name}`);
  return structuredClone(obj);
};

describe('the Argo CD health check', () => {
  it('calls a Ready deployment Healthy', () => {
    expect(health(fixture('ready'))).toEqual({
      status: 'Healthy',
      message: expect.stringMatching(/^DeploymentReady/),
    });
  });

  it('calls every phase on the way to Ready Progressing, with what the operator is doing', () => {
    const onTheWay = Object.keys(captured).filter((name) => name.startsWith('progressing-'));
    expect(onTheWay.length).toBeGreaterThan(0);
    for (const name of onTheWay) expect(health(fixture(name)).status, name).toBe('Progressing');
  });

  it('calls a deployment without GPUs Degraded, with the scheduler’s reason', () => {
    expect(health(fixture('degraded-insufficient-gpu'))).toEqual({
      status: 'Degraded',
      message: expect.stringMatching(/^InsufficientGPU: /),
    });
  });

  it('calls a deployment whose type has no node Degraded, with the scheduler’s reason', () => {
    expect(health(fixture('degraded-unschedulable'))).toEqual({
      status: 'Degraded',
      message: expect.stringMatching(/^Unschedulable: /),
    });
  });

  it('calls a deployment whose weights failed Degraded', () => {
    const result = health(fixture('degraded-weights-failed'));
    expect(result.status).toBe('Degraded');
    expect(result.message).toMatch(/Weights/);
  });

  it('waits for the operator: no status yet, or a status of an older generation, is Progressing', () => {
    const fresh = fixture('ready');
    delete fresh.status;
    expect(health(fresh)).toEqual({
      status: 'Progressing',
      message: 'Waiting for the operator to report a status',
    });
    const edited = fixture('ready');
    edited.metadata.generation = (edited.status?.observedGeneration ?? 1) + 1;
    expect(health(edited)).toEqual({
      status: 'Progressing',
      message: `Waiting for the operator to observe generation ${edited.metadata.generation}`,
    });
  });

  it('calls a deployment being deleted Progressing, and a Stalled one Degraded', () => {
    const deleting = fixture('ready');
    deleting.status = { ...deleting.status, phase: 'Deleting' };
    expect(health(deleting)).toEqual({ status: 'Progressing', message: 'Deleting' });
    // A Stalled condition the operator may set without Degraded (kstatus' own convention).
    const stalled = fixture('progressing-Deploying');
    const conditions = (stalled.status?.conditions ?? []).filter((c) => c.type !== 'Stalled');
    conditions.push({
      type: 'Stalled',
      status: 'True',
      reason: 'ProgressDeadlineExceeded',
      message: 'The rollout made no progress.',
      lastTransitionTime: '2026-12-07T00:00:00Z',
    });
    if (stalled.status) stalled.status.conditions = conditions;
    expect(health(stalled)).toEqual({
      status: 'Degraded',
      message: 'ProgressDeadlineExceeded: The rollout made no progress.',
    });
  });

  it('is pasted verbatim in the chart README', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    const indented = readFileSync(SCRIPT, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => (line ? `    ${line}` : ''))
      .join('\n');
    expect(readme).toContain(
      `resource.customizations.health.inference.pixtral.dev_PixtralDeployment: |\n${indented}\n\`\`\``,
    );
  });
});
