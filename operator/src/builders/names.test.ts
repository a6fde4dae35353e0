import { describe, expect, it } from 'vitest';
import { aPixtralDeployment } from '../../../test/fixtures/pixtral-deployment.ts';
import { findModel } from '../catalog/index.ts';
import { canonicalJson, shortHash } from './hash.ts';
import { apiKeysSecretName, childName, nodePoolName, weightsPvcName, workloadName } from './names.ts';

const DNS_1035 = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

describe('childName', () => {
  it('joins short names plainly', () => {
    expect(childName('vision', 'pixtral')).toBe('vision-pixtral');
    expect(workloadName(aPixtralDeployment())).toBe('vision-pixtral');
  });

  it.each([
    ['a 253-character name', 'v'.repeat(253)],
    ['a name with dots', 'vision.team.example'],
    ['a name starting with a digit', '1vision'],
    ['a name that is 58 characters', `a${'b'.repeat(57)}`],
  ])('keeps %s a DNS-1035 label of 63 characters at most', (_case, base) => {
    const name = childName(base, 'api-key-hashes');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS_1035);
    expect(name.endsWith('-api-key-hashes')).toBe(true);
  });

  it('gives different long names different results, and the same name the same result', () => {
    const a = childName(`${'x'.repeat(100)}a`, 'pixtral');
    const b = childName(`${'x'.repeat(100)}b`, 'pixtral');
    expect(a).not.toBe(b);
    expect(childName(`${'x'.repeat(100)}a`, 'pixtral')).toBe(a);
    expect(childName('a.b', 'tls')).not.toBe(childName('a-b', 'tls'));
  });

  it('names the API keys Secret after spec.apiKeys.secretName when given', () => {
    expect(apiKeysSecretName(aPixtralDeployment())).toBe('vision-api-keys');
    expect(apiKeysSecretName(aPixtralDeployment({ apiKeys: { secretName: 'my-keys' } }))).toBe('my-keys');
  });
});

describe('shared object names', () => {
  it('names the weights cache weights-<model-slug>-<revision hash>', () => {
    const model = findModel('mistral/pixtral-12b-2409:bf16')!;
    expect(weightsPvcName(model)).toMatch(/^weights-mistral-pixtral-12b-2409-bf16-[0-9a-f]{8}$/);
    const other = { ...model, weights: { ...model.weights, revision: '0'.repeat(40) } };
    expect(weightsPvcName(other)).not.toBe(weightsPvcName(model));
    const long = { ...model, name: `example/${'m'.repeat(80)}:bf16` };
    expect(weightsPvcName(long).length).toBeLessThanOrEqual(63);
  });

  it('names node pools pixtral-<node type>', () => {
    expect(nodePoolName('H100-2')).toBe('pixtral-h100-2');
  });
});

describe('hashing', () => {
  it('ignores key order but not values', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] })).toBe('{"a":[2,{"c":2,"d":1}],"b":1}');
    expect(shortHash({ a: 1, b: 2 })).toBe(shortHash({ b: 2, a: 1 }));
    expect(shortHash({ a: 1 })).not.toBe(shortHash({ a: 2 }));
  });
});
