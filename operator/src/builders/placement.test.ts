import { describe, expect, it } from 'vitest';
import { anOperatorConfig, aPixtralDeployment } from '../../../test/fixtures/pixtral-deployment.ts';
import { placement, sortTolerations } from './placement.ts';

describe('GPU placement', () => {
  it.each([
    ['H100', 'H100-1-80G', 1],
    ['H100-2', 'H100-2-80G', 2],
  ] as const)(
    'puts %s pods on %s nodes with %i GPU(s) and tensor parallelism to match',
    (nodeType, instance, gpus) => {
      const place = placement(aPixtralDeployment({ nodeType }), anOperatorConfig());
      expect(place).toEqual({
        nodeType,
        nodeSelector: { 'node.kubernetes.io/instance-type': instance },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        gpus,
        tensorParallelSize: gpus,
      });
    },
  );

  it('uses the overridden labels and tolerations of the config', () => {
    const config = anOperatorConfig({
      nodeTypes: { H100: { labels: { 'gpu.example.com/type': 'h100' }, tolerations: [] } },
    });
    const place = placement(aPixtralDeployment(), config);
    expect(place.nodeSelector).toEqual({ 'gpu.example.com/type': 'h100' });
    expect(place.tolerations).toEqual([]);
  });

  it('keeps the node type labels when the user selector names the same key', () => {
    const cr = aPixtralDeployment({
      pod: { nodeSelector: { 'node.kubernetes.io/instance-type': 'cheap', rack: 'r1' } },
    });
    expect(placement(cr, anOperatorConfig()).nodeSelector).toEqual({
      'node.kubernetes.io/instance-type': 'H100-1-80G',
      rack: 'r1',
    });
  });

  it('de-duplicates and sorts tolerations whatever their order and key order', () => {
    expect(
      sortTolerations([
        { effect: 'NoSchedule', key: 'nvidia.com/gpu', operator: 'Exists' },
        { key: 'b', operator: 'Exists' },
        { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      ]),
    ).toEqual([
      { key: 'b', operator: 'Exists' },
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
  });
});
