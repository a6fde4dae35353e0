import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { appliedBy, extract } from '../../operator/src/runtime/applied-fields.ts';
import { needsApply } from '../../operator/src/runtime/apply.ts';
import { trimForCache } from '../../operator/src/runtime/cache-transform.ts';

const ours = 'pixtral-operator';

/** What the operator applies: labels, an owner, replicas and one container with a port. */
function desired(image = 'vllm:1'): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'ns',
      labels: { app: 'web' },
      ownerReferences: [{ apiVersion: 'x/v1', kind: 'X', name: 'x', uid: 'u1', controller: true }],
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [{ name: 'vllm', image, args: ['--a', '--b'], ports: [{ containerPort: 8000 }] }],
          volumes: [{ name: 'cache', emptyDir: {} }],
        },
      },
    },
  };
}

/** The field set the API server records for `desired()` (list items by key, protocol defaulted into the port's key). */
const ourFields = {
  'f:metadata': {
    'f:labels': { 'f:app': {} },
    'f:ownerReferences': {
      'k:{"uid":"u1"}': {
        '.': {},
        'f:apiVersion': {},
        'f:controller': {},
        'f:kind': {},
        'f:name': {},
        'f:uid': {},
      },
    },
  },
  'f:spec': {
    'f:replicas': {},
    'f:selector': {},
    'f:template': {
      'f:metadata': { 'f:labels': { 'f:app': {} } },
      'f:spec': {
        'f:containers': {
          'k:{"name":"vllm"}': {
            '.': {},
            'f:args': {},
            'f:image': {},
            'f:name': {},
            'f:ports': { 'k:{"containerPort":8000,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
          },
        },
        'f:volumes': { 'k:{"name":"cache"}': { '.': {}, 'f:emptyDir': {}, 'f:name': {} } },
      },
    },
  },
};

/** The live object: our fields, the server's defaults, another manager's label and container, and a status. */
function live(fields: object = ourFields, image = 'vllm:1'): V1Deployment {
  const object = desired(image);
  object.metadata = {
    ...object.metadata,
    uid: 'd1',
    resourceVersion: '9',
    generation: 1,
    labels: { app: 'web', team: 'ml' },
    managedFields: [
      { manager: ours, operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1: fields },
      {
        manager: 'kubectl-edit',
        operation: 'Update',
        apiVersion: 'apps/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:labels': { 'f:team': {} } } },
      },
    ],
  };
  const container = object.spec!.template.spec!.containers[0]!;
  container.ports = [{ containerPort: 8000, protocol: 'TCP' }];
  container.imagePullPolicy = 'IfNotPresent';
  object.spec!.template.spec!.containers.push({ name: 'debug', image: 'busybox' });
  object.spec!.strategy = { type: 'RollingUpdate' };
  object.status = { replicas: 1, readyReplicas: 1 };
  return object;
}

describe('the values at the fields an apply owns', () => {
  it('are what was applied: no defaults, no other manager fields or list items, no status', () => {
    const { apiVersion: _a, kind: _k, metadata, ...body } = desired();
    const { name: _n, namespace: _ns, ...rest } = metadata!;
    expect(extract(ourFields, live())).toEqual({ ...body, metadata: rest });
  });

  it('take list items by value for sets', () => {
    expect(extract({ 'f:finalizers': { 'v:"a"': {} } }, { finalizers: ['b', 'a'] })).toEqual({
      finalizers: ['a'],
    });
  });
});

describe('needsApply', () => {
  it('is false when the live object holds what we would apply, whatever others added', () => {
    expect(needsApply(desired(), live(), ours, '')).toBe(false);
  });

  it('is true when a value we apply changed', () => {
    expect(needsApply(desired('vllm:2'), live(), ours, '')).toBe(true);
  });

  it('is true when another writer took a field over (it left our field set with its new value)', () => {
    const fields = structuredClone(ourFields);
    delete (
      fields['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"vllm"}'] as Record<string, unknown>
    )['f:image'];
    expect(needsApply(desired(), live(fields, 'vllm:edited'), ours, '')).toBe(true);
  });

  it('is true when we no longer want a field we applied (the apply removes it)', () => {
    const fewer = desired();
    delete fewer.metadata!.labels;
    expect(needsApply(fewer, live(), ours, '')).toBe(true);
  });

  it('is true when we want a field we never applied', () => {
    const more = desired();
    more.metadata!.annotations = { note: 'x' };
    expect(needsApply(more, live(), ours, '')).toBe(true);
  });

  it('is true when our manager has not applied the object yet', () => {
    expect(needsApply(desired(), live(), 'someone-else', '')).toBe(true);
  });

  it('compares a status apply with the fields of our status entry only', () => {
    const object: KubernetesObject & { status?: object } = {
      apiVersion: 'x/v1',
      kind: 'X',
      metadata: {
        name: 'x',
        namespace: 'ns',
        managedFields: [
          {
            manager: ours,
            operation: 'Apply',
            subresource: 'status',
            fieldsV1: {
              'f:status': {
                'f:phase': {},
                'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:type': {}, 'f:status': {} } },
              },
            },
          },
        ],
      },
      status: {
        phase: 'Ready',
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'Other', status: 'False' },
        ],
        extra: 1,
      },
    };
    const patch = (phase: string) => ({
      apiVersion: 'x/v1',
      kind: 'X',
      metadata: { name: 'x', namespace: 'ns' },
      status: { phase, conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(needsApply(patch('Ready'), object, ours, 'status')).toBe(false);
    expect(needsApply(patch('Deploying'), object, ours, 'status')).toBe(true);
    expect(needsApply(patch('Ready'), object, ours, '')).toBe(true);
  });

  it('answers for a cached object, which keeps neither managedFields nor the pod template, as for the full one', () => {
    const cached = trimForCache(live());
    expect(cached.metadata).not.toHaveProperty('managedFields');
    expect(cached.spec).not.toHaveProperty('template');
    expect(needsApply(desired(), cached, ours, '')).toBe(false);
    expect(needsApply(desired('vllm:2'), cached, ours, '')).toBe(true);
    expect(appliedBy(cached, ours)?.paths).toContain('spec.replicas');
  });
});
