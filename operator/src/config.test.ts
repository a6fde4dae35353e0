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
