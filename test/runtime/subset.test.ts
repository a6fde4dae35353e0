import { describe, expect, it } from 'vitest';
import { needsApply } from '../../operator/src/runtime/apply.ts';
import { fieldsDriftFrom, isSubset } from '../../operator/src/runtime/subset.ts';

describe('isSubset', () => {
  it.each([
    ['equal scalars', { a: 1 }, { a: 1 }, true],
    ['a differing scalar', { a: 1 }, { a: 2 }, false],
    ['extra live keys (defaults, other managers)', { a: 1 }, { a: 1, b: 2 }, true],
    ['a missing key', { a: 1, c: 3 }, { a: 1 }, false],
    ['scalar lists in order', { args: ['--x', '--y'] }, { args: ['--x', '--y'] }, true],
    ['scalar lists reordered', { args: ['--x', '--y'] }, { args: ['--y', '--x'] }, false],
    ['scalar lists with an extra live element', { args: ['--x'] }, { args: ['--x', '--y'] }, false],
    [
      "object lists with others' elements",
      { refs: [{ uid: 'u1' }] },
      { refs: [{ uid: 'u0' }, { uid: 'u1', kind: 'X' }] },
      true,
    ],
    ['object lists missing our element', { refs: [{ uid: 'u1' }] }, { refs: [{ uid: 'u0' }] }, false],
    ['an empty desired map against an absent one', { labels: {} }, {}, true],
  ])('%s', (_name, desired, actual, expected) => {
    expect(isSubset(desired, actual)).toBe(expected);
  });
});

describe('fieldsDriftFrom', () => {
  const fields = { 'f:metadata': { 'f:labels': { 'f:a': {}, 'f:b': {} } }, 'f:data': { 'f:x': {} } };

  it('sees no drift when every managed map field is still desired', () => {
    expect(fieldsDriftFrom(fields, { metadata: { labels: { a: '1', b: '2' } }, data: { x: 'y' } })).toBe(
      false,
    );
  });

  it('sees drift when a field we manage is no longer desired (apply would remove it)', () => {
    expect(fieldsDriftFrom(fields, { metadata: { labels: { a: '1' } }, data: { x: 'y' } })).toBe(true);
  });

  it('does not look inside lists', () => {
    expect(
      fieldsDriftFrom(
        { 'f:spec': { 'f:containers': { 'k:{"name":"a"}': { 'f:image': {} } } } },
        { spec: { containers: [] } },
      ),
    ).toBe(false);
  });
});

describe('needsApply', () => {
  const live = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 's',
      namespace: 'ns',
      resourceVersion: '7',
      labels: { a: '1' },
      managedFields: [
        {
          manager: 'pixtral-operator',
          operation: 'Apply',
          fieldsV1: { 'f:metadata': { 'f:labels': { 'f:a': {} } } },
        },
      ],
    },
    type: 'Opaque',
  };

  it('is false when the live object already says what we apply', () => {
    expect(
      needsApply(
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns', labels: { a: '1' } } },
        live,
        'pixtral-operator',
        '',
      ),
    ).toBe(false);
  });

  it('is true when our manager has no apply entry yet', () => {
    expect(
      needsApply(
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns', labels: { a: '1' } } },
        live,
        'someone-else',
        '',
      ),
    ).toBe(true);
  });

  it('is true when a value drifted', () => {
    expect(
      needsApply(
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns', labels: { a: '2' } } },
        live,
        'pixtral-operator',
        '',
      ),
    ).toBe(true);
  });
});
