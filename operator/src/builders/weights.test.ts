import type { V1Deployment, V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ModelSpec } from '../../../runtime-image/src/provisioner/spec.ts';
import {
  anOperatorConfig,
  aPixtralDeployment,
  FIXTURE_UID,
} from '../../../test/fixtures/pixtral-deployment.ts';
import { findModel } from '../catalog/index.ts';
import { deployment } from './deployment.ts';
import { catalogModel, withConfiguredWeights } from './model.ts';
import { claimOf, desiredWeightsCache, notesOf, provisionSpec, weightsJob, weightsPvc } from './weights.ts';

const pixtral = findModel('mistral/pixtral-12b-2409:bf16')!;
const PVC = {
  name: 'weights-mistral-pixtral-12b-2409-bf16-0123abcd',
  uid: '11111111-2222-4333-8444-555555555555',
};
const envOf = (job: V1Job) =>
  Object.fromEntries(job.spec!.template.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));

describe('weights cache PVC', () => {
  it('is shared: it names no deployment (no owner reference, no instance label)', () => {
    const cr = aPixtralDeployment();
    const pvc = weightsPvc({ cr, config: anOperatorConfig() });
    expect(pvc.metadata!.name).toMatch(/^weights-mistral-pixtral-12b-2409-bf16-[0-9a-f]{8}$/);
    expect(pvc.metadata!.ownerReferences).toBeUndefined();
    expect(pvc.metadata!.labels).not.toHaveProperty('app.kubernetes.io/instance');
    expect(pvc.metadata!.annotations).toEqual({
      'pixtral.dev/model': 'mistral/pixtral-12b-2409:bf16',
      'pixtral.dev/revision': pixtral.weights.revision,
    });
    expect(JSON.stringify(pvc)).not.toContain(FIXTURE_UID);
  });

  it('keeps the failed attempts in annotations, and reads them back', () => {
    const input = { cr: aPixtralDeployment(), config: anOperatorConfig() };
    const failing = weightsPvc(input, undefined, { attempts: 2, lastFailureTime: '2026-12-01T09:59:50Z' });
    expect(notesOf(failing)).toEqual({ attempts: 2, lastFailureTime: '2026-12-01T09:59:50Z' });
    expect(notesOf(weightsPvc(input))).toEqual({ attempts: 0, lastFailureTime: undefined });
    const garbled = { metadata: { annotations: { 'pixtral.dev/weights-attempts': '-3' } } };
    expect(notesOf(garbled).attempts).toBe(0);
  });

  it("is sized from the catalog unless the spec says otherwise, in the spec's or config's class", () => {
    const config = anOperatorConfig({ weights: { storageClassName: 'shared-fs' } });
    expect(weightsPvc({ cr: aPixtralDeployment(), config }).spec).toEqual({
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: '25Gi' } },
      storageClassName: 'shared-fs',
      volumeMode: 'Filesystem',
    });
    const custom = aPixtralDeployment({ weights: { size: '0.0625Ti', storageClassName: 'fast' } });
    expect(weightsPvc({ cr: custom, config }).spec).toMatchObject({
      resources: { requests: { storage: '64Gi' } },
      storageClassName: 'fast',
    });
  });

  it('re-applies the live spec when the cache exists, whatever this deployment would ask for', () => {
    const live = weightsPvc({ cr: aPixtralDeployment(), config: anOperatorConfig() });
    live.spec!.storageClassName = 'standard';
    const joining = aPixtralDeployment(
      { weights: { size: '100Gi', storageClassName: 'other' } },
      { name: 'b', uid: PVC.uid },
    );
    const pvc = weightsPvc({ cr: joining, config: anOperatorConfig() }, live);
    expect(pvc.spec).toEqual({
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: '25Gi' } },
      storageClassName: 'standard',
      volumeMode: 'Filesystem',
    });
  });
});

describe('weights Job', () => {
  const input = { cr: aPixtralDeployment(), config: anOperatorConfig() };

  it("runs the provisioner with the catalog spec into the PVC mount, controlled by the cache's PVC", () => {
    const job = weightsJob(input, PVC);
    expect(job.metadata!.name).toMatch(/^weights-[0-9a-f]{10}$/);
    expect(job.metadata!.ownerReferences).toEqual([
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        ...PVC,
        controller: true,
        blockOwnerDeletion: false,
      },
    ]);
    expect(claimOf(job)).toBe(weightsPvc(input).metadata!.name);
    const pod = job.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(container.command).toEqual(['provision-weights']);
    expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(container.volumeMounts).toEqual([{ name: 'weights', mountPath: '/weights' }]);
    expect(pod.volumes).toEqual([
      { name: 'weights', persistentVolumeClaim: { claimName: weightsPvc(input).metadata!.name } },
    ]);
    expect(pod.restartPolicy).toBe('Never');
    expect(envOf(job)).toEqual({
      HF_ENDPOINT: 'https://huggingface.co',
      PROVISION_SPEC: provisionSpec(pixtral),
      PROVISION_TARGET: '/weights',
    });
    expect(job.spec).toMatchObject({ backoffLimit: 1, activeDeadlineSeconds: 7200 });
    expect(job.spec).not.toHaveProperty('ttlSecondsAfterFinished');
  });

  it('hands the provisioner a spec it accepts, with every catalog file and hash', () => {
    const spec = ModelSpec.parse(JSON.parse(provisionSpec(pixtral)));
    expect(spec.source).toEqual({
      kind: 'hub',
      repo: 'mistralai/Pixtral-12B-2409',
      revision: pixtral.weights.revision,
    });
    expect(spec.files.map((f) => [f.name, f.sha256])).toEqual(
      [...pixtral.weights.files].sort((a, b) => a.path.localeCompare(b.path)).map((f) => [f.path, f.sha256]),
    );
  });

  it('mounts the hub token Secret as a file when configured', () => {
    const config = anOperatorConfig({ weights: { hubTokenSecretName: 'hf-token', hubTokenSecretKey: 'hf' } });
    const job = weightsJob({ cr: aPixtralDeployment(), config }, PVC);
    expect(envOf(job).HF_TOKEN_FILE).toBe('/etc/pixtral/hub-token/hf');
    expect(job.spec!.template.spec!.volumes).toContainEqual({
      name: 'hub-token',
      secret: { secretName: 'hf-token' },
    });
    expect(job.spec!.template.spec!.containers[0]!.volumeMounts).toContainEqual({
      name: 'hub-token',
      mountPath: '/etc/pixtral/hub-token',
      readOnly: true,
    });
  });

  it('gets a new name when its template changes, and the same name otherwise', () => {
    const name = weightsJob(input, PVC).metadata!.name;
    expect(
      weightsJob({ cr: aPixtralDeployment({ nodeType: 'H100-2' }), config: input.config }, PVC).metadata!
        .name,
    ).toBe(name);
    const newImage = anOperatorConfig({ images: { runtime: 'registry.local/runtime:2' } });
    expect(weightsJob({ cr: input.cr, config: newImage }, PVC).metadata!.name).not.toBe(name);
    expect(weightsJob(input, PVC)).toEqual(weightsJob(input, PVC));
  });

  it('is built only once the PVC exists, since its name and owner need the uid', () => {
    expect(desiredWeightsCache(input, undefined).job).toBeUndefined();
    const live = { ...weightsPvc(input), metadata: { ...weightsPvc(input).metadata, uid: PVC.uid } };
    expect(desiredWeightsCache(input, live).job?.metadata?.ownerReferences?.[0]?.uid).toBe(PVC.uid);
  });
});

describe('a configured weights source (weights.sources)', () => {
  const mirrored = {
    repo: 'platform/pixtral-repacked',
    revision: 'c'.repeat(40),
    files: [
      { path: 'tekken.json', sizeBytes: 19_280_963, sha256: 'b'.repeat(64) },
      { path: 'consolidated.safetensors', sizeBytes: 1_048_576, sha256: 'a'.repeat(64) },
      { path: 'params.json', sizeBytes: 453 },
    ],
  };
  const config = anOperatorConfig({
    weights: { hubUrl: 'http://hub.mirror.internal', sources: { [pixtral.name]: mirrored } },
  });
  const cr = aPixtralDeployment();

  it('hands the provisioner its repository, revision and pins, verified like the catalog', () => {
    const job = weightsJob({ cr, config }, PVC);
    expect(envOf(job).HF_ENDPOINT).toBe('http://hub.mirror.internal');
    const spec = ModelSpec.parse(JSON.parse(envOf(job).PROVISION_SPEC!));
    expect(spec).toEqual({
      model: pixtral.name,
      source: { kind: 'hub', repo: 'platform/pixtral-repacked', revision: 'c'.repeat(40) },
      files: [
        { name: 'consolidated.safetensors', size: 1_048_576, sizeIsExact: true, sha256: 'a'.repeat(64) },
        // A plain git file: the provisioner verifies the blob id the hub gives at the revision.
        { name: 'params.json', size: 453, sizeIsExact: true },
        { name: 'tekken.json', size: 19_280_963, sizeIsExact: true, sha256: 'b'.repeat(64) },
      ],
    });
    expect(job.metadata!.annotations).toMatchObject({ 'pixtral.dev/revision': 'c'.repeat(40) });
  });

  it("sizes the cache from the source's files and names it after its revision", () => {
    const pvc = weightsPvc({ cr, config });
    expect(pvc.spec!.resources!.requests!.storage).toBe('1Gi');
    expect(pvc.metadata!.annotations).toEqual({
      'pixtral.dev/model': pixtral.name,
      'pixtral.dev/revision': 'c'.repeat(40),
    });
    // Another revision, another cache: the catalog's bytes and the mirror's never share a volume.
    const catalogPvc = weightsPvc({ cr, config: anOperatorConfig() });
    expect(pvc.metadata!.name).not.toBe(catalogPvc.metadata!.name);
    expect(pvc.metadata!.name).toMatch(/^weights-mistral-pixtral-12b-2409-bf16-[0-9a-f]{8}$/);
    // spec.weights.size still wins.
    expect(
      weightsPvc({ cr: aPixtralDeployment({ weights: { size: '30Gi' } }), config }).spec!.resources!.requests,
    ).toEqual({ storage: '30Gi' });
  });

  it('mounts that cache in the serving pods and rolls them when the source changes', () => {
    const served = deployment({ cr, config });
    expect(served.spec!.template.spec!.volumes).toContainEqual({
      name: 'weights',
      persistentVolumeClaim: { claimName: weightsPvc({ cr, config }).metadata!.name, readOnly: true },
    });
    const hash = (d: V1Deployment) => d.spec!.template.metadata!.annotations!['pixtral.dev/config-hash'];
    expect(hash(served)).not.toBe(hash(deployment({ cr, config: anOperatorConfig() })));
  });

  it('leaves models without a configured source as the catalog pins them', () => {
    expect(withConfiguredWeights(pixtral, anOperatorConfig())).toBe(pixtral);
    expect(catalogModel(cr, config).weights.revision).toBe('c'.repeat(40));
    expect(catalogModel(cr, config).vllmModelArgs).toEqual(pixtral.vllmModelArgs);
  });
});
