/**
 * A status never stalls silently: each way a deployment gets stuck on a real control plane shows
 * as Degraded (so `kubectl wait --for=condition=Degraded` catches it) with Kubernetes' own message
 * and an Event, within a minute. Also: pods pass PodSecurity `restricted`, an unowned object with a
 * child's name is left untouched, a refused write is reported, and KEDA installed while the
 * operator runs is picked up.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  EventsV1Api,
  SchedulingV1Api,
  StorageV1Api,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PixtralDeployment } from '../../operator/src/api/pixtral-deployment.ts';
import { nodePoolName } from '../../operator/src/builders/names.ts';
import { eventually, freshNamespace, installCrds } from '../harness/index.ts';
import { gitBlobId, runProvisioner } from '../provisioner/fixtures.ts';
import { startHub } from '../provisioner/hub-server.ts';
import { type E2eCluster, startE2eCluster } from './cluster.ts';
import { type InProcessOperator, startOperator } from './operator.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';
const REPO = 'mistralai/Pixtral-12B-2409';
const REVISION = 'a9da202d8e3192195835f077c43435c8b22545ab';
const PARAMS = Buffer.from('{\n  "dim": 5120\n}\n');
let c: E2eCluster;
let operator: InProcessOperator;
/** How long each stall took to show, for the log at the end. */
const seen: Record<string, number> = {};

beforeAll(async () => {
  c = await startE2eCluster({ h100: 5, h100x2: 1, volumes: 14 });
  operator = await startOperator(c.kc, { baseDomain: 'inference.test' });
});

afterAll(async () => {
  console.log(
    `stall detection times (s):\n${Object.entries(seen)
      .map(([t, s]) => `  ${s}  ${t}`)
      .join('\n')}`,
  );
  await operator?.stop();
  await c?.cp.stop();
});

/**
 * Waits (at most 60 s) for Degraded=True as a user would, then checks its reason, that its
 * message carries `says`, and that an Event with the same reason was recorded.
 */
async function expectDegraded(ns: string, name: string, reason: string, says: string | RegExp) {
  const started = Date.now();
  const wait = await c.cp.kubectl([
    'wait',
    '--for=condition=Degraded',
    `pxd/${name}`,
    '-n',
    ns,
    '--timeout=60s',
  ]);
  seen[expect.getState().currentTestName ?? reason] = Math.round((Date.now() - started) / 100) / 10;
  const cr = await c.pxds.read(ns, name);
  const degraded = cr.status?.conditions?.find((x) => x.type === 'Degraded');
  expect(wait.code, `${wait.stderr} ${JSON.stringify(cr.status?.conditions)}`).toBe(0);
  expect(degraded?.reason).toBe(reason);
  expect(degraded?.message).toMatch(says);
  await eventually(async () => {
    const events = (await c.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items;
    expect(
      events.some((e) => e.regarding?.name === name && e.reason === reason && e.type === 'Warning'),
    ).toBe(true);
  });
  return cr;
}

async function servingPod(ns: string, name: string): Promise<V1Pod> {
  return eventually(async () => {
    const pods = await c.core.listNamespacedPod({
      namespace: ns,
      labelSelector: `app.kubernetes.io/instance=${name},app.kubernetes.io/component=server`,
    });
    const pod = pods.items[0];
    expect(pod?.status?.phase).toBe('Running');
    return pod!;
  });
}

/** Splits a command line as a POSIX shell does for plain words and single quotes. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quoted = false;
  for (const ch of line) {
    if (ch === "'") {
      quoted = !quoted;
      word ??= '';
    } else if (/\s/.test(ch) && !quoted) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Writes a pod status as a kubelet would (kwok leaves a Running pod's status alone). */
async function setContainerWaiting(pod: V1Pod, reason: string, message: string) {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const status = {
    phase: 'Running',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      { type: 'Initialized', status: 'True', lastTransitionTime: now },
      { type: 'ContainersReady', status: 'False', lastTransitionTime: now },
      { type: 'Ready', status: 'False', lastTransitionTime: now },
    ],
    containerStatuses: (pod.spec?.containers ?? []).map((ctr) => ({
      name: ctr.name,
      image: ctr.image,
      imageID: '',
      ready: false,
      restartCount: ctr.name === 'vllm' ? 5 : 0,
      state: ctr.name === 'vllm' ? { waiting: { reason, message } } : { running: { startedAt: now } },
    })),
  };
  const patched = await c.cp.kubectl([
    'patch',
    'pod',
    pod.metadata!.name!,
    '-n',
    pod.metadata!.namespace!,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
  expect(patched.code, patched.stderr).toBe(0);
}

describe('pods the operator creates', () => {
  it('are admitted in a namespace that enforces PodSecurity restricted (weights Job and serving pods)', async () => {
    const ns = await freshNamespace(c.kc, 'restricted');
    const label = await c.cp.kubectl([
      'label',
      'namespace',
      ns,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/enforce-version=latest',
    ]);
    expect(label.code, label.stderr).toBe(0);
    await c.pxds.create(ns, 'vision', { nodeType: 'H100' });
    const wait = await c.cp.kubectl([
      'wait',
      '--for=condition=Ready',
      'pxd/vision',
      '-n',
      ns,
      '--timeout=120s',
    ]);
    const cr = await c.pxds.read(ns, 'vision');
    expect(wait.code, JSON.stringify(cr.status?.conditions)).toBe(0);
    expect((await servingPod(ns, 'vision')).spec?.securityContext?.seccompProfile?.type).toBe(
      'RuntimeDefault',
    );
  });

  it('shows the private URL in the ENDPOINT column, and the key Event prints the key itself', async () => {
    const ns = await freshNamespace(c.kc, 'small');
    await c.pxds.create(ns, 'vision', { nodeType: 'H100', endpoints: { private: {} } });
    await eventually(async () => {
      const get = await c.cp.kubectl(['get', 'pxd', 'vision', '-n', ns]);
      expect(get.stdout).toMatch(/ENDPOINT/);
      expect(get.stdout).toContain(`http://vision-pixtral.${ns}.svc.cluster.local/v1`);
    });
    const note = await eventually(async () => {
      const events = (await c.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items;
      const generated = events.find((e) => e.reason === 'ApiKeyGenerated');
      expect(generated?.note).toContain('print it with: kubectl ');
      return generated!.note!;
    });
    // The command as a user would paste it (the shell removes the quotes).
    const command = note.slice(note.indexOf('kubectl ') + 'kubectl '.length);
    const args = shellWords(command);
    const printed = await c.cp.kubectl(args);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/^pxd_[A-Za-z0-9_-]+$/);
  });
});

describe('a stuck weights cache', () => {
  it('names a StorageClass that does not exist', async () => {
    const ns = await freshNamespace(c.kc, 'stall');
    await c.pxds.create(ns, 'vision', { nodeType: 'H100', weights: { storageClassName: 'fast-ssd' } });
    const cr = await expectDegraded(ns, 'vision', 'VolumePending', /fast-ssd.*not found/);
    expect(['Creating', 'ProvisioningWeights']).toContain(cr.status?.phase);
    expect(cr.status?.conditions?.find((x) => x.type === 'WeightsReady')?.reason).toBe('VolumePending');
  });

  it('says the claim waits for a provisioner that never answers', async () => {
    await c.kc
      .makeApiClient(StorageV1Api)
      .createStorageClass({ body: { metadata: { name: 'nfs-rwx' }, provisioner: 'example.com/nfs' } });
    const ns = await freshNamespace(c.kc, 'stall');
    await c.pxds.create(ns, 'vision', { nodeType: 'H100', weights: { storageClassName: 'nfs-rwx' } });
    await expectDegraded(ns, 'vision', 'VolumePending', /example\.com\/nfs/);
  });

  it('says the Job pod waits for a volume no node can bind (WaitForFirstConsumer)', async () => {
    await c.kc.makeApiClient(StorageV1Api).createStorageClass({
      body: {
        metadata: { name: 'local-wffc' },
        provisioner: 'kubernetes.io/no-provisioner',
        volumeBindingMode: 'WaitForFirstConsumer',
      },
    });
    const ns = await freshNamespace(c.kc, 'stall');
    await c.pxds.create(ns, 'vision', { nodeType: 'H100', weights: { storageClassName: 'local-wffc' } });
    await expectDegraded(ns, 'vision', 'Unschedulable', /persistent volumes to bind/);
  });

  it('reports a Job that may not create its pod (ResourceQuota)', async () => {
    const ns = await freshNamespace(c.kc, 'stall');
    await c.core.createNamespacedResourceQuota({
      namespace: ns,
      body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } },
    });
    await c.pxds.create(ns, 'vision', { nodeType: 'H100' });
    await expectDegraded(ns, 'vision', 'PodCreateFailed', /Job .*exceeded quota/);
  });

  it('reports a cache the API server refuses to create (ResourceQuota on storage)', async () => {
    const ns = await freshNamespace(c.kc, 'stall');
    await c.core.createNamespacedResourceQuota({
      namespace: ns,
      body: { metadata: { name: 'small-storage' }, spec: { hard: { 'requests.storage': '1Gi' } } },
    });
    // A quota is enforced once the quota controller has counted what it covers: before, a claim
    // created at once may pass admission.
    await eventually(async () => {
      const quota = await c.core.readNamespacedResourceQuota({ namespace: ns, name: 'small-storage' });
      expect(quota.status?.hard?.['requests.storage']).toBe('1Gi');
    });
    await c.pxds.create(ns, 'vision', { nodeType: 'H100' });
    await expectDegraded(
      ns,
      'vision',
      'ApplyFailed',
      /PersistentVolumeClaim .*exceeded quota: small-storage/,
    );
  });
});

describe('stuck serving pods', () => {
  it('reports a ReplicaSet that cannot create pods (no such PriorityClass)', async () => {
    const ns = await freshNamespace(c.kc, 'stall');
    await c.pxds.create(ns, 'vision', { nodeType: 'H100', pod: { priorityClassName: 'urgent' } });
    const cr = await expectDegraded(ns, 'vision', 'PodCreateFailed', /no PriorityClass with name urgent/);
    expect(cr.status?.phase).toBe('Deploying');
    // Fixing the cluster clears it without touching the resource.
    await c.kc
      .makeApiClient(SchedulingV1Api)
      .createPriorityClass({ body: { metadata: { name: 'urgent' }, value: 1000 } });
    const ready = await c.cp.kubectl([
      'wait',
      '--for=condition=Ready',
      'pxd/vision',
      '-n',
      ns,
      '--timeout=120s',
    ]);
    expect(ready.code, ready.stderr).toBe(0);
  });

  it('says Unschedulable, not InsufficientGPU, for a zone no GPU node has', async () => {
    const ns = await freshNamespace(c.kc, 'stall');
    await c.pxds.create(ns, 'vision', {
      nodeType: 'H100',
      pod: { nodeSelector: { 'topology.kubernetes.io/zone': 'nowhere-1a' } },
    });
    await expectDegraded(ns, 'vision', 'Unschedulable', /didn't match Pod's node affinity\/selector/);
  });

  it('says InsufficientGPU when the node type has no free GPU', async () => {
    const ns = await freshNamespace(c.kc, 'stall');
    await c.pxds.create(ns, 'first', { nodeType: 'H100-2' });
    await c.pxds.waitForPhase(ns, 'first', 'Ready', 120_000);
    await c.pxds.create(ns, 'second', { nodeType: 'H100-2' });
    await expectDegraded(ns, 'second', 'InsufficientGPU', /Insufficient nvidia\.com\/gpu/);
  });

  it('names the container and image that cannot be pulled, then the crash loop', async () => {
    const ns = await freshNamespace(c.kc, 'stall');
    await c.pxds.create(ns, 'vision', { nodeType: 'H100' });
    await c.pxds.waitForPhase(ns, 'vision', 'Ready', 120_000);
    const pod = await servingPod(ns, 'vision');
    const image = pod.spec?.containers.find((x) => x.name === 'vllm')?.image ?? '';
    await setContainerWaiting(pod, 'ImagePullBackOff', `Back-off pulling image "${image}"`);
    const cr = await expectDegraded(ns, 'vision', 'ImagePullFailed', `container vllm (image ${image})`);
    expect(cr.status?.phase).not.toBe('Ready');
    await setContainerWaiting(pod, 'CrashLoopBackOff', 'back-off 5m0s restarting failed container=vllm');
    await eventually(async () => {
      const now = await c.pxds.read(ns, 'vision');
      const degraded = now.status?.conditions?.find((x) => x.type === 'Degraded');
      expect(degraded).toMatchObject({ status: 'True', reason: 'CrashLooping' });
      expect(degraded?.message).toContain('restarted 5 times');
    });
  });
});

describe('objects the user must act on', () => {
  it('leaves an unowned Service with a child name untouched and says so', async () => {
    const ns = await freshNamespace(c.kc, 'stall');
    const theirs = await c.core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name: 'vision-pixtral', labels: { team: 'someone-else' } },
        spec: { ports: [{ name: 'web', port: 9999 }], selector: { app: 'theirs' } },
      },
    });
    await c.pxds.create(ns, 'vision', { nodeType: 'H100' });
    const cr = await expectDegraded(ns, 'vision', 'AlreadyOwned', 'Service');
    expect(cr.status?.conditions?.find((x) => x.type === 'Degraded')?.message).toContain('vision-pixtral');
    const after = await c.core.readNamespacedService({ namespace: ns, name: 'vision-pixtral' });
    expect(after.metadata?.resourceVersion).toBe(theirs.metadata?.resourceVersion);
    expect(after.metadata?.ownerReferences).toBeUndefined();
    expect(after.spec?.ports?.map((p) => p.port)).toEqual([9999]);
  });

  it('puts a write the API server refuses for good (an admission policy) in status', async () => {
    const admission = c.kc.makeApiClient(AdmissionregistrationV1Api);
    await admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: 'no-services' },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: [''],
                apiVersions: ['v1'],
                operations: ['CREATE', 'UPDATE'],
                resources: ['services'],
              },
            ],
          },
          validations: [{ expression: 'false', message: 'Services here are made by the platform team' }],
        },
      },
    });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: 'no-services' },
        spec: {
          policyName: 'no-services',
          validationActions: ['Deny'],
          matchResources: { namespaceSelector: { matchLabels: { 'deny-services': 'true' } } },
        },
      },
    });
    const ns = await freshNamespace(c.kc, 'stall');
    await c.cp.kubectl(['label', 'namespace', ns, 'deny-services=true']);
    // The policy takes effect once the API server has loaded it.
    await eventually(async () => {
      const probe = await c.cp.kubectl([
        'create',
        'service',
        'clusterip',
        'probe',
        '--tcp=80',
        '-n',
        ns,
        '--dry-run=server',
      ]);
      expect(probe.stderr).toContain('Services here are made by the platform team');
    });
    await c.pxds.create(ns, 'vision', { nodeType: 'H100' });
    const cr = await expectDegraded(
      ns,
      'vision',
      'ApplyFailed',
      /Services here are made by the platform team/,
    );
    expect(cr.status?.phase).toBe('Error');
  });
});

describe('optional integrations', () => {
  it('picks up KEDA installed while the operator runs', async () => {
    const ns = await freshNamespace(c.kc, 'keda');
    await c.pxds.create(ns, 'scaled', { nodeType: 'H100', minSize: 1, maxSize: 2 });
    const missing = await expectDegraded(ns, 'scaled', 'IntegrationMissing', /KEDA .*not installed/);
    expect(missing.status?.phase).toBe('Error');
    await installCrds(c.kc, [join(ROOT, 'test/fixtures/crds/keda.sh_scaledobjects.yaml')]);
    await eventually(
      async () => {
        const list = (await c.custom.listNamespacedCustomObject({
          group: 'keda.sh',
          version: 'v1alpha1',
          plural: 'scaledobjects',
          namespace: ns,
        })) as { items: unknown[] };
        expect(list.items).toHaveLength(1);
        const cr = (await c.pxds.read(ns, 'scaled')) as PixtralDeployment;
        expect(cr.status?.conditions?.find((x) => x.type === 'Degraded')?.reason).not.toBe(
          'IntegrationMissing',
        );
      },
      { timeoutMs: 60_000 },
    );
  });
});

describe('Karpenter installed while the operator runs', () => {
  beforeAll(async () => {
    await operator.stop();
    operator = await startOperator(c.kc, {
      baseDomain: 'inference.test',
      nodePools: {
        provider: 'karpenter',
        nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
      },
    });
  });

  it('says Karpenter is missing, then makes the NodePool once its CRD is installed', async () => {
    const ns = await freshNamespace(c.kc, 'karpenter');
    await c.pxds.create(ns, 'vision', { nodeType: 'H100' });
    await expectDegraded(ns, 'vision', 'IntegrationMissing', /karpenter\.sh\/v1 NodePool is not installed/);
    await installCrds(c.kc, [join(ROOT, 'test/fixtures/crds/karpenter.sh_nodepools.yaml')]);
    await eventually(
      async () => {
        const pools = (await c.custom.listClusterCustomObject({
          group: 'karpenter.sh',
          version: 'v1',
          plural: 'nodepools',
        })) as { items: { metadata: { name: string } }[] };
        // Deployments of earlier tests in this cluster may have a pool of their own node type.
        expect(pools.items.map((p) => p.metadata.name)).toContain(nodePoolName('H100'));
        const cr = await c.pxds.read(ns, 'vision');
        expect(cr.status?.conditions?.find((x) => x.type === 'Degraded')?.reason).not.toBe(
          'IntegrationMissing',
        );
      },
      { timeoutMs: 60_000 },
    );
  });
});

describe('a weights file that does not match the hub', () => {
  beforeAll(async () => {
    await operator.stop();
    // kwok fails the Job pod; a long backoff so the failed Job stays to be read.
    operator = await startOperator(c.kc, {
      baseDomain: 'inference.test',
      weights: { podLabels: { [FAIL_LABEL]: 'true' }, retryBaseSeconds: 600, jobBackoffLimit: 0 },
    });
  });

  it('stops in Error with both digests from the provisioner report, and is not retried', async () => {
    // The real provisioner against the hub-like server, one byte of params.json corrupted on the way.
    const dir = await mkdtemp(join(tmpdir(), 'e2e-digest-'));
    const hub = await startHub(
      [
        {
          name: 'params.json',
          path: join(dir, 'params.json'),
          size: PARAMS.length,
          sha256: '0'.repeat(64),
          lfs: false,
        },
      ],
      { repo: REPO, revision: REVISION },
    );
    try {
      await writeFile(join(dir, 'params.json'), PARAMS);
      hub.faults = { corrupt: { file: 'params.json', offset: 2 } };
      const terminationLog = join(dir, 'termination-log');
      await writeFile(terminationLog, '');
      const run = await runProvisioner(
        {
          model: 'mistral/pixtral-12b-2409:bf16',
          source: { kind: 'hub', repo: REPO, revision: REVISION },
          files: [{ name: 'params.json', size: PARAMS.length }],
        },
        ['--target', join(dir, 'weights'), '--hub-url', hub.hubUrl, '--termination-log', terminationLog],
      );
      expect(run.code).toBe(3);
      const report = await readFile(terminationLog, 'utf8');
      const expected = `git-blob-sha1:${gitBlobId(PARAMS)}`;
      expect(JSON.parse(report)).toMatchObject({ code: 'DigestMismatch', expected });

      const ns = await freshNamespace(c.kc, 'digest');
      await c.pxds.create(ns, 'vision', { nodeType: 'H100' });
      // What the kubelet copies from the termination log into the failed pod's status.
      const pod = await eventually(async () => {
        const pods = await c.core.listNamespacedPod({
          namespace: ns,
          labelSelector: 'app.kubernetes.io/component=weights-provisioner',
        });
        expect(pods.items[0]?.status?.phase).toBe('Failed');
        return pods.items[0]!;
      });
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const patched = await c.cp.kubectl([
        'patch',
        'pod',
        pod.metadata!.name!,
        '-n',
        ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({
          status: {
            containerStatuses: [
              {
                name: 'provisioner',
                image: pod.spec?.containers[0]?.image,
                imageID: '',
                ready: false,
                restartCount: 0,
                state: {
                  terminated: {
                    exitCode: 3,
                    reason: 'Error',
                    message: report,
                    startedAt: now,
                    finishedAt: now,
                  },
                },
              },
            ],
          },
        }),
      ]);
      expect(patched.code, patched.stderr).toBe(0);
      const cr = await eventually(async () => {
        const now = await c.pxds.read(ns, 'vision');
        expect(now.status?.conditions?.find((x) => x.type === 'Degraded')?.reason).toBe(
          'WeightsDigestMismatch',
        );
        return now;
      });
      expect(cr.status?.phase).toBe('Error');
      const degraded = cr.status?.conditions?.find((x) => x.type === 'Degraded');
      expect(degraded?.message).toContain(`params.json should be ${expected} but is git-blob-sha1:`);
      expect(cr.status?.conditions?.find((x) => x.type === 'WeightsReady')?.message).toContain('not retried');
    } finally {
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
