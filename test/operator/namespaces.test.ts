/**
 * An operator confined to a list of namespaces (`--namespace a,b`, the chart's watchNamespaces)
 * reconciles there and nowhere else, and every list and watch of a namespaced kind it sends stays
 * inside those namespaces (the API server's audit log), so Roles in them are all it needs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type InProcessOperator, startOperator } from '../e2e/operator.ts';
import { Pxds } from '../e2e/pxd.ts';
import { type ControlPlane, eventually, freshNamespace, startControlPlane } from '../harness/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let cp: ControlPlane;
let operator: InProcessOperator | undefined;

beforeAll(async () => {
  cp = await startControlPlane({
    auditLog: true,
    verbose: false,
    crds: [join(ROOT, 'crds/inference.pixtral.dev_pixtraldeployments.yaml')],
  });
});

afterAll(async () => {
  await operator?.stop();
  await cp?.stop();
});

it('reconciles only in its namespaces and lists and watches nothing outside them', async () => {
  const kc = cp.kubeConfig();
  const [a, b, outside] = [
    await freshNamespace(kc, 'team-a'),
    await freshNamespace(kc, 'team-b'),
    await freshNamespace(kc, 'other'),
  ];
  operator = await startOperator(kc, {}, ['--namespace', `${a},${b}`]);
  const pxds = new Pxds(kc);
  for (const ns of [a, b, outside]) await pxds.create(ns, 'vision', { nodeType: 'H100' });
  for (const ns of [a, b]) {
    await eventually(async () => expect((await pxds.read(ns, 'vision')).status?.uuid).toBeDefined());
  }
  await operator.stop();
  operator = undefined;
  expect((await pxds.read(outside, 'vision')).status).toBeUndefined();

  const records = (await readFile(cp.auditLogPath!, 'utf8'))
    .split('\n')
    .filter((l) => l.trim())
    .map(
      (l) =>
        JSON.parse(l) as {
          verb: string;
          userAgent?: string;
          stage: string;
          requestURI: string;
          objectRef?: { resource?: string; namespace?: string };
        },
    )
    .filter(
      (r) =>
        r.stage === 'ResponseComplete' &&
        r.userAgent?.startsWith('pixtral-operator') &&
        (r.verb === 'list' || r.verb === 'watch'),
    );
  const namespacedLists = records.filter((r) => r.objectRef?.resource !== 'customresourcedefinitions');
  expect(namespacedLists.length).toBeGreaterThan(0);
  for (const r of namespacedLists) {
    expect([a, b], r.requestURI).toContain(r.objectRef?.namespace);
  }
});
