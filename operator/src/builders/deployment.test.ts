import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  anOperatorConfig,
  aPixtralDeployment,
  FIXTURE_UID,
} from '../../../test/fixtures/pixtral-deployment.ts';
import { CONFIG_HASH_ANNOTATION, deployment, replicasHandoff, sidecarNodeOptions } from './deployment.ts';

const build = (spec: Parameters<typeof aPixtralDeployment>[0] = {}, config = anOperatorConfig()) =>
  deployment({ cr: aPixtralDeployment(spec), config });
const container = (d: V1Deployment, name: string): V1Container =>
  d.spec!.template.spec!.containers.find((c) => c.name === name)!;
const envOf = (c: V1Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];

describe('serving Deployment', () => {
  it('is controlled by its PixtralDeployment and carries the standard labels', () => {
    const d = build();
    expect(d.metadata).toEqual({
      name: 'vision-pixtral',
      namespace: 'team-a',
      labels: {
        'app.kubernetes.io/component': 'server',
        'app.kubernetes.io/instance': 'vision',
        'app.kubernetes.io/managed-by': 'pixtral-operator',
        'app.kubernetes.io/name': 'pixtral',
      },
      ownerReferences: [
        {
          apiVersion: 'inference.pixtral.dev/v1alpha1',
          kind: 'PixtralDeployment',
          name: 'vision',
          uid: FIXTURE_UID,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    expect(d.spec!.selector.matchLabels).toEqual({
      'app.kubernetes.io/component': 'server',
      'app.kubernetes.io/instance': 'vision',
      'app.kubernetes.io/name': 'pixtral',
    });
  });

  it('runs vLLM with the Pixtral flags, on loopback, with tensor parallelism = GPUs', () => {
    const d = build({ nodeType: 'H100-2', maxContextLength: 65536, maxImagesPerRequest: 8 });
    const vllm = container(d, 'vllm');
    const args = vllm.args!;
    expect(flag(args, '--served-model-name')).toBe('mistral/pixtral-12b-2409:bf16');
    expect(flag(args, '--tensor-parallel-size')).toBe('2');
    expect(flag(args, '--max-model-len')).toBe('65536');
    expect(flag(args, '--limit-mm-per-prompt')).toBe('{"image":8}');
    expect(flag(args, '--host')).toBe('127.0.0.1');
    expect(flag(args, '--port')).toBe('8000');
    expect(vllm.command).toEqual(['vllm', 'serve']);
    expect(args[0]).toBe('/weights');
    expect(flag(args, '--tokenizer-mode')).toBe('mistral');
    expect(vllm.resources!.limits!['nvidia.com/gpu']).toBe('2');
    expect(vllm.resources!.requests!['nvidia.com/gpu']).toBe('2');
    expect(vllm.ports).toBeUndefined();
  });

  it("uses the catalog's limits when the spec sets none", () => {
    const args = container(build(), 'vllm').args!;
    expect(flag(args, '--max-model-len')).toBe('131072');
    expect(flag(args, '--limit-mm-per-prompt')).toBe('{"image":12}');
    expect(flag(args, '--tensor-parallel-size')).toBe('1');
  });

  it('probes vLLM with exec probes against 127.0.0.1, the startup probe sized for a 25 GB load', () => {
    const vllm = container(build(), 'vllm');
    for (const probe of [vllm.startupProbe!, vllm.livenessProbe!]) {
      expect(probe.httpGet).toBeUndefined();
      expect(probe.exec!.command!.join(' ')).toContain('http://127.0.0.1:8000/health');
    }
    expect(vllm.startupProbe!.periodSeconds! * vllm.startupProbe!.failureThreshold!).toBe(1800);
  });

  it('runs every container as non-root with RuntimeDefault seccomp and no capabilities', () => {
    const spec = build().spec!.template.spec!;
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const c of spec.containers) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    }
    expect(container(build(), 'vllm').env).toContainEqual({ name: 'HOME', value: '/home/vllm' });
  });

  it('mounts the weights read-only in both containers and /dev/shm as memory', () => {
    const d = build();
    for (const name of ['vllm', 'sidecar']) {
      expect(container(d, name).volumeMounts).toContainEqual({
        name: 'weights',
        mountPath: '/weights',
        readOnly: true,
      });
    }
    const volumes = d.spec!.template.spec!.volumes!;
    expect(volumes.map((v) => v.name)).toEqual(['api-key-hashes', 'dshm', 'vllm-home', 'weights']);
    expect(volumes.find((v) => v.name === 'dshm')!.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '16Gi' });
    expect(volumes.find((v) => v.name === 'weights')!.persistentVolumeClaim).toEqual({
      claimName: expect.stringMatching(/^weights-mistral-pixtral-12b-2409-bf16-/),
      readOnly: true,
    });
  });

  it('exposes only the sidecar, configured from the spec, with the key hashes mounted as a folder', () => {
    const d = build({ maxContextLength: 32768, maxImagesPerRequest: 4 });
    const sidecar = container(d, 'sidecar');
    expect(sidecar.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(sidecar.readinessProbe!.httpGet).toEqual({ path: '/health', port: 'http', scheme: 'HTTP' });
    expect(envOf(sidecar)).toEqual({
      API_KEY_HASHES_FILE: '/etc/pixtral/api-key-hashes/hashes',
      DISABLE_AUTH: 'false',
      MAX_BODY_BYTES: String(64 * 1024 * 1024),
      MAX_CONTEXT_LENGTH: '32768',
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '131072',
      MAX_IMAGES_PER_REQUEST: '4',
      NODE_OPTIONS: '--max-old-space-size=768 --expose-gc',
      SERVED_MODEL_NAME: 'mistral/pixtral-12b-2409:bf16',
      SIDECAR_PORT: '8080',
      UPSTREAM_URL: 'http://127.0.0.1:8000',
      WEIGHTS_DIR: '/weights',
    });
    const names = sidecar.env!.map((e) => e.name);
    expect(names).toEqual([...names].sort());
    const mount = sidecar.volumeMounts!.find((m) => m.name === 'api-key-hashes')!;
    expect(mount).toEqual({
      name: 'api-key-hashes',
      mountPath: '/etc/pixtral/api-key-hashes',
      readOnly: true,
    });
    expect(d.spec!.template.spec!.volumes!.find((v) => v.name === 'api-key-hashes')!.secret).toEqual({
      secretName: 'vision-api-key-hashes',
    });
  });

  it('opens the keyless port when the public and private endpoints disagree on disableAuth', () => {
    const sidecar = container(
      build({ endpoints: { public: {}, private: { disableAuth: true } } }),
      'sidecar',
    );
    expect(sidecar.ports!.map((p) => [p.name, p.containerPort])).toEqual([
      ['http', 8080],
      ['http-noauth', 8081],
    ]);
    expect(envOf(sidecar)).toMatchObject({ DISABLE_AUTH: 'false', SIDECAR_NOAUTH_PORT: '8081' });
    const open = container(build({ endpoints: { private: { disableAuth: true } } }), 'sidecar');
    expect(envOf(open)).toMatchObject({ DISABLE_AUTH: 'true' });
    expect(envOf(open).SIDECAR_NOAUTH_PORT).toBeUndefined();
  });

  it('places pods on the node type, adding the user selector and tolerations', () => {
    const spec = build({
      nodeType: 'H100-2',
      pod: {
        nodeSelector: { zone: 'a', 'node.kubernetes.io/instance-type': 'other' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ai', effect: 'NoSchedule' }],
      },
    }).spec!.template.spec!;
    expect(spec.nodeSelector).toEqual({ 'node.kubernetes.io/instance-type': 'H100-2-80G', zone: 'a' });
    expect(spec.tolerations).toEqual([
      { key: 'dedicated', operator: 'Equal', value: 'ai', effect: 'NoSchedule' },
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
  });

  it('sets replicas to minSize only when no autoscaler owns them', () => {
    expect(build({ minSize: 2, maxSize: 2 }).spec!.replicas).toBe(2);
    expect(build({ minSize: 0, maxSize: undefined }).spec!.replicas).toBe(0);
    expect(build({ minSize: 1, maxSize: 3 }).spec).not.toHaveProperty('replicas');
  });

  it('hands replicas to the autoscaler with an object naming only the live count', () => {
    expect(replicasHandoff({ cr: aPixtralDeployment(), config: anOperatorConfig() }, 3)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'vision-pixtral', namespace: 'team-a' },
      spec: { replicas: 3 },
    });
  });

  it('rolls without asking for more GPUs (maxSurge 0) unless configured', () => {
    expect(build().spec!.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
    });
    const surge = build({}, anOperatorConfig({ rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }));
    expect(surge.spec!.strategy!.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });

  it('merges user pod labels, annotations, priority class and resources', () => {
    const d = build({
      pod: {
        labels: { team: 'a' },
        annotations: { 'example.com/x': 'y' },
        priorityClassName: 'inference-high',
      },
      resources: { vllm: { limits: { memory: '120Gi' } }, sidecar: { requests: { cpu: '500m' } } },
    });
    const template = d.spec!.template;
    expect(template.metadata!.labels).toMatchObject({ team: 'a', 'app.kubernetes.io/instance': 'vision' });
    expect(template.metadata!.annotations).toMatchObject({ 'example.com/x': 'y' });
    expect(template.spec!.priorityClassName).toBe('inference-high');
    expect(container(d, 'vllm').resources).toEqual({
      limits: { memory: '120Gi', 'nvidia.com/gpu': '1' },
      requests: { cpu: '8', memory: '64Gi', 'nvidia.com/gpu': '1' },
    });
    expect(container(d, 'sidecar').resources).toEqual({
      limits: { memory: '1Gi' },
      requests: { cpu: '500m', memory: '512Mi' },
    });
  });

  it('changes the config hash when a setting that rolls pods changes, not when replicas do', () => {
    const hash = (spec: Parameters<typeof aPixtralDeployment>[0]) =>
      build(spec).spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    expect(hash({})).toMatch(/^[0-9a-f]{16}$/);
    expect(hash({ maxContextLength: 65536 })).not.toBe(hash({}));
    expect(hash({ minSize: 2, maxSize: 2 })).toBe(hash({}));
  });

  it('is deterministic: the same input twice gives deep-equal output', () => {
    const spec = {
      nodeType: 'H100-2',
      minSize: 1,
      maxSize: 4,
      endpoints: { public: {}, private: {} },
    } as const;
    expect(build(spec)).toEqual(build(spec));
    expect(JSON.stringify(build(spec))).toBe(JSON.stringify(build(spec)));
  });
});

describe('the sidecar heap', () => {
  it('is three quarters of its memory limit, and left to V8 without a limit', () => {
    expect(sidecarNodeOptions('1Gi')).toBe('--max-old-space-size=768 --expose-gc');
    expect(sidecarNodeOptions('2G')).toBe('--max-old-space-size=1430 --expose-gc');
    expect(sidecarNodeOptions(undefined)).toBeUndefined();
  });
});
