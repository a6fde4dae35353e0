import { describe, expect, it } from 'vitest';
import { anOperatorConfig, aPixtralDeployment } from '../../../test/fixtures/pixtral-deployment.ts';
import { podDisruptionBudget, scaledObject } from './availability.ts';
import { nodePool } from './node-pool.ts';

const karpenter = anOperatorConfig({
  nodePools: {
    provider: 'karpenter',
    nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
  },
});

describe('PodDisruptionBudget', () => {
  it('lets one serving pod go at a time', () => {
    const pdb = podDisruptionBudget({ cr: aPixtralDeployment(), config: anOperatorConfig() });
    expect(pdb.metadata!.name).toBe('vision-pixtral');
    expect(pdb.spec).toEqual({
      maxUnavailable: 1,
      selector: {
        matchLabels: {
          'app.kubernetes.io/component': 'server',
          'app.kubernetes.io/instance': 'vision',
          'app.kubernetes.io/name': 'pixtral',
        },
      },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
  });
});

describe('KEDA ScaledObject', () => {
  it('is absent for a fixed size', () => {
    expect(
      scaledObject({ cr: aPixtralDeployment({ minSize: 2, maxSize: 2 }), config: anOperatorConfig() }),
    ).toBe(undefined);
  });

  it('scales the Deployment between minSize and maxSize on the queue depth', () => {
    const so = scaledObject({
      cr: aPixtralDeployment({ minSize: 1, maxSize: 4 }),
      config: anOperatorConfig(),
    })!;
    expect(so.apiVersion).toBe('keda.sh/v1alpha1');
    expect(so.metadata.ownerReferences![0]!.controller).toBe(true);
    expect(so.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'vision-pixtral',
    });
    expect([so.spec.minReplicaCount, so.spec.maxReplicaCount]).toEqual([1, 4]);
    const trigger = so.spec.triggers[0]!;
    expect(trigger.type).toBe('prometheus');
    expect(trigger.metadata.serverAddress).toBe('http://prometheus-operated.monitoring.svc:9090');
    expect(trigger.metadata.threshold).toBe('4');
    expect(trigger.metadata.query).toContain('namespace="team-a",pod=~"vision-pixtral-.*"');
    expect(trigger.metadata.query).not.toContain('{namespace}');
  });
});

describe('Karpenter NodePool', () => {
  it('is absent without the Karpenter provider', () => {
    expect(nodePool(anOperatorConfig(), 'H100')).toBeUndefined();
  });

  it('provisions the node type with its instance type, GPU taint and node class, unowned', () => {
    const pool = nodePool(karpenter, 'H100-2')!;
    expect(pool.metadata.name).toBe('pixtral-h100-2');
    expect(pool.metadata).not.toHaveProperty('ownerReferences');
    expect(pool.metadata).not.toHaveProperty('namespace');
    expect(pool.metadata.labels['pixtral.dev/node-type']).toBe('H100-2');
    expect(pool.spec.template.spec).toEqual({
      nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
      requirements: [{ key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['H100-2-80G'] }],
      taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }],
    });
    expect(pool.spec.template.metadata.labels).toEqual({ 'pixtral.dev/node-type': 'H100-2' });
  });

  it('follows overridden labels and tolerations', () => {
    const config = anOperatorConfig({
      nodePools: karpenter.nodePools,
      nodeTypes: {
        H100: {
          labels: { 'gpu.example.com/type': 'h100' },
          tolerations: [{ key: 'gpu', operator: 'Equal', value: 'h100', effect: 'NoExecute' }],
        },
      },
    });
    expect(nodePool(config, 'H100')!.spec.template.spec).toMatchObject({
      requirements: [{ key: 'gpu.example.com/type', operator: 'In', values: ['h100'] }],
      taints: [{ key: 'gpu', value: 'h100', effect: 'NoExecute' }],
    });
  });
});
