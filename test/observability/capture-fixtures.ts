/**
 * Captures PixtralDeployments as the operator writes them, from an end-to-end run (real control
 * plane, kwok GPU nodes, the operator in process), into fixtures/pixtral-deployments.json: the
 * objects the Argo CD health check and the kstatus tests run against. Re-run after a status change:
 *
 *   node test/observability/capture-fixtures.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PixtralDeployment } from '../../operator/src/api/pixtral-deployment.ts';
import { startE2eCluster } from '../e2e/cluster.ts';
import { startOperator } from '../e2e/operator.ts';
import { eventually, freshNamespace } from '../harness/index.ts';

/** kwok's stage that fails a pod's container: the weights Job fails for real. */
const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';
const OUT = join(import.meta.dirname, 'fixtures', 'pixtral-deployments.json');

const withoutManagedFields = (cr: PixtralDeployment): PixtralDeployment => {
  delete (cr.metadata as { managedFields?: unknown }).managedFields;
  return cr;
};
const condition = (cr: PixtralDeployment, type: string) =>
  cr.status?.conditions?.find((c) => c.type === type);

const { cp, kc, pxds } = await startE2eCluster({ h100: 1, h100x2: 0, volumes: 6 });
const captured: Record<string, unknown> = {
  _about:
    'PixtralDeployments as the API server returned them during an end-to-end run of the operator (real control plane, kwok GPU nodes; the weights Job failure from kwok’s failing stage), managedFields removed. Made by test/observability/capture-fixtures.ts.',
};
try {
  let operator = await startOperator(kc, { baseDomain: 'inference.test' });
  const ns = await freshNamespace(kc, 'capture');
  await pxds.create(ns, 'vision', { nodeType: 'H100', endpoints: { private: {} } });
  // Every phase on the way, as often as the status changes.
  await eventually(
    async () => {
      const cr = await pxds.read(ns, 'vision');
      const phase = cr.status?.phase;
      if (phase && phase !== 'Ready') captured[`progressing-${phase}`] = withoutManagedFields(cr);
      if (phase !== 'Ready') throw new Error(`phase ${phase}`);
      captured.ready = withoutManagedFields(cr);
    },
    { timeoutMs: 120_000, intervalMs: 50 },
  );
  const degraded = (namespace: string, name: string) =>
    eventually(
      async () => {
        const cr = await pxds.read(namespace, name);
        if (condition(cr, 'Degraded')?.status !== 'True') throw new Error('not Degraded yet');
        return withoutManagedFields(cr);
      },
      { timeoutMs: 120_000 },
    );
  // The only H100 serves `vision`: a second one waits for a free GPU.
  await pxds.create(ns, 'second', { nodeType: 'H100' });
  captured['degraded-insufficient-gpu'] = await degraded(ns, 'second');
  // No H100-2 node at all: the scheduler finds no node of the type.
  await pxds.create(ns, 'big', { nodeType: 'H100-2' });
  captured['degraded-unschedulable'] = await degraded(ns, 'big');
  await operator.stop();
  operator = await startOperator(kc, {
    baseDomain: 'inference.test',
    weights: { podLabels: { [FAIL_LABEL]: 'true' }, retryBaseSeconds: 300, jobBackoffLimit: 0 },
  });
  const failing = await freshNamespace(kc, 'capture-fail');
  await pxds.create(failing, 'broken', { nodeType: 'H100' });
  captured['degraded-weights-failed'] = withoutManagedFields(
    await pxds.waitForPhase(failing, 'broken', 'Error'),
  );
  await operator.stop();
  writeFileSync(OUT, `${JSON.stringify(captured, null, 2)}\n`);
  process.stdout.write(`wrote ${OUT}: ${Object.keys(captured).join(', ')}\n`);
} finally {
  await cp.stop();
}
