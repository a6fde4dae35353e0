import { describe, expect, it } from 'vitest';
import { GPU_TOLERATION, loadOperatorConfig, OperatorConfigError, parseOperatorConfig } from './config.ts';

const files = (content: Record<string, string>) => (path: string) => {
  const text = content[path];
  if (text === undefined) throw new Error(`ENOENT: no such file ${path}`);
  return text;
};

describe('operator configuration', () => {
  it('defaults every field to what the design asks for', () => {
    const config = parseOperatorConfig({});
    expect(config.nodeTypes.H100).toEqual({
      labels: { 'node.kubernetes.io/instance-type': 'H100-1-80G' },
      tolerations: [GPU_TOLERATION],
    });
    expect(config.nodeTypes['H100-2'].labels).toEqual({ 'node.kubernetes.io/instance-type': 'H100-2-80G' });
    expect(GPU_TOLERATION).toEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(config.nodePools).toEqual({ provider: 'none' });
    expect(config.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(config.fieldManager).toBe('pixtral-operator');
    expect(config.sidecar.maxBodyBytes).toBe(64 * 1024 * 1024);
    expect(config.baseDomain).toBeUndefined();
    expect(config.weights.hubUrl).toBe('https://huggingface.co');
  });

  it('loads a YAML file and lets env vars override single fields', () => {
    const config = loadOperatorConfig(
      { OPERATOR_CONFIG_FILE: '/etc/pxd/config.yaml', PXD_BASE_DOMAIN: 'ai.example.org', PXD_VLLM_IMAGE: '' },
      files({
        '/etc/pxd/config.yaml': [
          'baseDomain: ignored.example.com',
          'images: {vllm: registry.local/vllm:1}',
          'ingress:',
          '  className: nginx',
          '  tls: {wildcardSecretName: wildcard-tls}',
          'nodeTypes:',
          '  H100: {labels: {gpu.example.com/model: h100}}',
          'nodePools:',
          '  provider: karpenter',
          '  nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}',
        ].join('\n'),
      }),
    );
    expect(config.baseDomain).toBe('ai.example.org');
    expect(config.images.vllm).toBe('registry.local/vllm:1');
    expect(config.ingress.tls).toEqual({ wildcardSecretName: 'wildcard-tls' });
    expect(config.nodeTypes.H100).toEqual({
      labels: { 'gpu.example.com/model': 'h100' },
      tolerations: [GPU_TOLERATION],
    });
    expect(config.nodeTypes['H100-2'].labels).toEqual({ 'node.kubernetes.io/instance-type': 'H100-2-80G' });
    expect(config.nodePools).toEqual({
      provider: 'karpenter',
      nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
    });
  });

  it('reads JSON files too, and runs on env vars alone without a file', () => {
    const fromJson = loadOperatorConfig(
      { OPERATOR_CONFIG_FILE: '/c.json' },
      files({ '/c.json': '{"shmSize": "32Gi"}' }),
    );
    expect(fromJson.shmSize).toBe('32Gi');
    expect(loadOperatorConfig({ PXD_INGRESS_CLASS_NAME: 'haproxy' }, files({})).ingress.className).toBe(
      'haproxy',
    );
  });

  it.each([
    [{ ingress: { tls: { certManagerIssuer: { kind: 'Vault', name: 'x' } } } }, 'ingress.tls'],
    [{ nodePools: { provider: 'karpenter' } }, 'nodePools.nodeClassRef'],
    [{ nodePools: { provider: 'gke' } }, 'nodePools.provider'],
    [{ rollingUpdate: { maxSurge: 'lots' } }, 'rollingUpdate.maxSurge'],
    [{ shmSize: '16 GB' }, 'shmSize'],
    [{ baseDomain: 'Not_A_Domain' }, 'baseDomain (or PXD_BASE_DOMAIN)'],
    [{ weights: { hubUrl: 'ftp://mirror' } }, 'weights.hubUrl'],
    [{ unknownField: true }, '(root)'],
  ])('names the bad field in %j', (input, field) => {
    expect(() => parseOperatorConfig(input)).toThrow(OperatorConfigError);
    expect(() => parseOperatorConfig(input)).toThrow(field);
  });

  describe('weights.sources', () => {
    const MODEL = 'mistral/pixtral-12b-2409:bf16';
    const sha = (c: string) => c.repeat(64);
    const mirror = (
      files: unknown[] = [
        { path: 'consolidated.safetensors', sizeBytes: 1048576, sha256: sha('a') },
        { path: 'params.json', sizeBytes: 453 },
        { path: 'tekken.json', sizeBytes: 19280963, sha256: sha('b') },
      ],
    ) => ({
      weights: {
        sources: {
          [MODEL]: { repo: 'platform/pixtral-repacked', revision: 'c'.repeat(40), files },
        },
      },
    });
    const problems = (input: unknown) => {
      try {
        parseOperatorConfig(input);
      } catch (error) {
        return (error as Error).message
          .split('\n')
          .slice(1)
          .map((line) => line.trim());
      }
      return [];
    };

    it('is empty by default: the catalog pins every model', () => {
      expect(parseOperatorConfig({}).weights.sources).toEqual({});
    });

    it('takes a mirrored copy of a catalog model, pinned by revision and SHA-256', () => {
      expect(parseOperatorConfig(mirror()).weights.sources[MODEL]).toEqual(mirror().weights.sources[MODEL]);
    });

    it('loads from the YAML file a chart renders', () => {
      const config = loadOperatorConfig(
        { OPERATOR_CONFIG_FILE: '/c.yaml' },
        files({
          '/c.yaml': [
            'weights:',
            '  hubUrl: http://hub.mirror.internal',
            '  sources:',
            `    ${MODEL}:`,
            '      repo: platform/pixtral-repacked',
            `      revision: ${'c'.repeat(40)}`,
            '      files:',
            `      - {path: consolidated.safetensors, sizeBytes: 1048576, sha256: ${sha('a')}}`,
            '      - {path: params.json, sizeBytes: 453}',
            `      - {path: tekken.json, sizeBytes: 19280963, sha256: ${sha('b')}}`,
          ].join('\n'),
        }),
      );
      expect(config.weights.sources[MODEL]?.files.map((f) => f.path)).toEqual([
        'consolidated.safetensors',
        'params.json',
        'tekken.json',
      ]);
    });

    it.each([
      [
        'a model the catalog does not know',
        { weights: { sources: { 'example/other:bf16': mirror().weights.sources[MODEL] } } },
        `weights.sources: example/other:bf16 is not in the model catalog; use one of: ${MODEL}`,
      ],
      [
        'a branch instead of a commit',
        { weights: { sources: { [MODEL]: { ...mirror().weights.sources[MODEL], revision: 'main' } } } },
        `weights.sources.${MODEL}.revision: must be a full 40-hex commit id, not a branch or tag`,
      ],
      [
        'a repository that is not owner/name',
        { weights: { sources: { [MODEL]: { ...mirror().weights.sources[MODEL], repo: 'pixtral' } } } },
        `weights.sources.${MODEL}.repo: must be "owner/name"`,
      ],
      [
        'a file the catalog does not list',
        mirror([
          { path: 'consolidated.safetensors', sizeBytes: 1, sha256: sha('a') },
          { path: 'tekken.json', sizeBytes: 1, sha256: sha('b') },
          { path: 'model.gguf', sizeBytes: 1, sha256: sha('d') },
        ]),
        `weights.sources.${MODEL}.files: must list each file vLLM loads for ${MODEL} once: consolidated.safetensors, params.json, tekken.json (got consolidated.safetensors, tekken.json, model.gguf)`,
      ],
      [
        'a file the catalog pins by SHA-256 left unpinned',
        mirror([
          { path: 'consolidated.safetensors', sizeBytes: 1 },
          { path: 'params.json', sizeBytes: 1 },
          { path: 'tekken.json', sizeBytes: 1, sha256: sha('b') },
        ]),
        `weights.sources.${MODEL}.files.0.sha256: is required for consolidated.safetensors: the catalog pins it by SHA-256, a configured source may not pin less`,
      ],
      [
        'an upper-case or short digest',
        mirror([
          { path: 'consolidated.safetensors', sizeBytes: 1, sha256: sha('A') },
          { path: 'params.json', sizeBytes: 1 },
          { path: 'tekken.json', sizeBytes: 1, sha256: 'b'.repeat(63) },
        ]),
        `weights.sources.${MODEL}.files.0.sha256: must be 64 lower-case hex digits (the SHA-256 the hub gives as the LFS id)`,
      ],
      [
        'a negative size',
        mirror([
          { path: 'consolidated.safetensors', sizeBytes: -1, sha256: sha('a') },
          { path: 'params.json', sizeBytes: 1 },
          { path: 'tekken.json', sizeBytes: 1, sha256: sha('b') },
        ]),
        `weights.sources.${MODEL}.files.0.sizeBytes: Too small: expected number to be >=0`,
      ],
    ])('refuses %s, naming the field', (_what, input, problem) => {
      expect(problems(input)).toContain(problem);
    });
  });

  it('says which file could not be read or parsed', () => {
    expect(() => loadOperatorConfig({ OPERATOR_CONFIG_FILE: '/missing.yaml' }, files({}))).toThrow(
      /Cannot read OPERATOR_CONFIG_FILE \/missing.yaml/,
    );
    expect(() =>
      loadOperatorConfig({ OPERATOR_CONFIG_FILE: '/bad.yaml' }, files({ '/bad.yaml': 'a: [' })),
    ).toThrow(/\/bad.yaml is not YAML or JSON/);
    expect(() =>
      loadOperatorConfig({ OPERATOR_CONFIG_FILE: '/list.yaml' }, files({ '/list.yaml': '- 1' })),
    ).toThrow(/must hold a mapping/);
  });
});
