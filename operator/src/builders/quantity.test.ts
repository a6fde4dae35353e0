import { describe, expect, it } from 'vitest';
import { mergeResources, normalizeQuantity } from './quantity.ts';

describe('normalizeQuantity writes quantities as the API server stores them', () => {
  it.each([
    ['1000m', '1'],
    ['1500m', '1500m'],
    ['0.5', '500m'],
    ['0.1', '100m'],
    [2, '2'],
    ['1000', '1k'],
    ['2000000', '2M'],
    ['1024Mi', '1Gi'],
    ['0.5Gi', '512Mi'],
    ['1.5Gi', '1536Mi'],
    ['2000Mi', '2000Mi'],
    ['0.5Ki', '512'],
    ['64Gi', '64Gi'],
    ['1e3', '1e3'],
    ['0', '0'],
    ['0.0000000001', '1n'],
    ['0.05Ti', '54975581388800m'],
    ['1.5k', '1500'],
    ['100Ki', '100Ki'],
  ])('%s → %s', (input, stored) => {
    expect(normalizeQuantity(input)).toBe(stored);
  });

  it('refuses what is not a quantity', () => {
    expect(() => normalizeQuantity('8 GB')).toThrow('"8 GB" is not a quantity');
  });
});

describe('mergeResources', () => {
  it('lets later layers replace single entries and sorts keys', () => {
    expect(
      mergeResources(
        { requests: { memory: '64Gi', cpu: '8' }, limits: { memory: '96Gi' } },
        { limits: { memory: '100Gi' } },
        { limits: { 'nvidia.com/gpu': 2 } },
      ),
    ).toEqual({ limits: { memory: '100Gi', 'nvidia.com/gpu': '2' }, requests: { cpu: '8', memory: '64Gi' } });
  });
});
