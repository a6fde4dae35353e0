/**
 * The operator reads only the Secrets it has business with: its own (label-selected) and a user's
 * key Secret by name. Shown with the API server's audit log: every Secret list and watch the
 * operator sends carries our label selector or that one name, and no other Secret is ever read.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type InProcessOperator, startOperator } from '../e2e/operator.ts';
import { Pxds } from '../e2e/pxd.ts';
import { type ControlPlane, eventually, freshNamespace, startControlPlane } from '../harness/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let cp: ControlPlane;
let operator: InProcessOperator;

beforeAll(async () => {
  cp = await startControlPlane({
    auditLog: true,
    verbose: false,
    crds: [join(ROOT, 'crds/inference.pixtral.dev_pixtraldeployments.yaml')],
  });
});

afterAll(async () => {
  await cp?.stop();
});

interface Audit {
  verb: string;
  userAgent?: string;
  stage: string;
  requestURI: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
}

it('lists and watches Secrets only by our label or by the name a deployment gives', async () => {
  const kc = cp.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const ns = await freshNamespace(kc, 'secrets');
  // Someone else's Secrets, in the same namespace: never to be read.
  for (const name of ['helm-release-1', 'tls-cert', 'db-password']) {
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name }, stringData: { x: 'secret' } },
    });
  }
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'team-keys' }, stringData: { alice: 'pxd_alice_key_0123456789' } },
  });
  operator = await startOperator(kc);
  const pxds = new Pxds(kc);
  await pxds.create(ns, 'vision', { nodeType: 'H100', apiKeys: { secretName: 'team-keys' } });
  await pxds.create(ns, 'generated', { nodeType: 'H100' });
  // The key hashes follow the user's Secret, and a rotation there reaches them (the by-name watch).
  const hashes = async () =>
    Buffer.from(
      (await core.readNamespacedSecret({ namespace: ns, name: 'vision-api-key-hashes' })).data?.hashes ?? '',
      'base64',
    ).toString();
  await eventually(async () => expect(await hashes()).toMatch(/^alice:/));
  await core.patchNamespacedSecret({
    namespace: ns,
    name: 'team-keys',
    body: [{ op: 'add', path: '/data/bob', value: Buffer.from('pxd_bob_key_0123456789').toString('base64') }],
  });
  await eventually(async () => expect(await hashes()).toMatch(/bob:/));
  await eventually(async () =>
    expect(
      (await core.readNamespacedSecret({ namespace: ns, name: 'generated-api-keys' })).data,
    ).toBeDefined(),
  );

  // A watch reaches the audit log when it ends: stop the operator first, then read until the
  // server has logged both watches closing.
  await operator.stop();
  const labelled = encodeURIComponent('app.kubernetes.io/managed-by=pixtral-operator');
  const byName = `fieldSelector=${encodeURIComponent(`metadata.namespace=${ns},metadata.name=team-keys`)}`;
  const secretReads = await eventually(async () => {
    const reads = (await readFile(cp.auditLogPath!, 'utf8'))
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Audit)
      .filter(
        (r) =>
          r.stage === 'ResponseComplete' &&
          r.userAgent?.startsWith('pixtral-operator') &&
          r.objectRef?.resource === 'secrets' &&
          ['list', 'watch', 'get'].includes(r.verb),
      );
    const watches = reads.filter((r) => r.verb === 'watch');
    expect(watches.some((r) => r.requestURI.includes(`labelSelector=${labelled}`))).toBe(true);
    expect(watches.some((r) => r.requestURI.includes(byName))).toBe(true);
    return reads;
  });
  const collection = secretReads.filter((r) => r.verb === 'list' || r.verb === 'watch');
  for (const r of collection) {
    expect(
      r.requestURI.includes(`labelSelector=${labelled}`) || r.requestURI.includes(byName),
      r.requestURI,
    ).toBe(true);
  }
  expect(
    collection.some((r) => r.verb === 'list' && r.requestURI.includes(`labelSelector=${labelled}`)),
  ).toBe(true);
  // Reads by name only of Secrets a deployment names or the operator made.
  const named = new Set(secretReads.filter((r) => r.verb === 'get').map((r) => r.objectRef?.name));
  for (const foreign of ['helm-release-1', 'tls-cert', 'db-password']) expect(named.has(foreign)).toBe(false);
});
