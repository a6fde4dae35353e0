import { describe, expect, it } from 'vitest';
import { aPixtralDeployment, INVALID_CASES, sample } from '../../../test/api/fixtures.ts';
import { checkStatusTransition, validatePixtralDeployment } from '../../../test/fixtures/validate.ts';
import { PixtralDeploymentStatusSchema } from './pixtral-deployment.ts';

const namesField = (fields: string[], field: string): boolean =>
  fields.some((f) => f === field || f.startsWith(`${field}.`) || f.startsWith(`${field}[`));

describe('PixtralDeployment zod schema', () => {
  it('has at least 25 invalid resources in its table', () => {
    expect(INVALID_CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(INVALID_CASES)('refuses a resource whose $name, naming $field', ({ resource, field }) => {
    const result = validatePixtralDeployment(resource);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const fields = result.errors.map((e) => e.field);
    expect(namesField(fields, field), `errors were ${JSON.stringify(result.errors)}`).toBe(true);
  });

  it('accepts the minimal sample and fills the defaults the API server fills', () => {
    const result = validatePixtralDeployment(sample('minimal'));
    expect(result.ok && result.value.spec).toEqual({
      model: 'mistral/pixtral-12b-2409:bf16',
      nodeType: 'H100',
      minSize: 1,
      endpoints: { private: { disableAuth: false } },
    });
  });

  it('accepts the complete sample and defaults disableAuth of the public endpoint', () => {
    const result = validatePixtralDeployment(sample('complete'));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.spec.endpoints).toEqual({
      public: { disableAuth: false },
      private: { disableAuth: true },
    });
    expect(result.value.spec.resources?.vllm?.requests).toEqual({ cpu: 8, memory: '64Gi' });
  });

  it.each([
    ['scale to zero', { minSize: 0, maxSize: 2 }],
    ['no maxSize', { maxSize: undefined }],
    ['the catalog limits exactly', { maxContextLength: 131072, maxImagesPerRequest: 12 }],
    ['text only', { maxImagesPerRequest: 0 }],
    ['two GPUs', { nodeType: 'H100-2' }],
    ['a weights volume of exactly the minimum', { weights: { size: '25Gi' } }],
    ['a large decimal volume', { weights: { size: '1.5Ti' } }],
  ])('accepts %s', (_name, spec) => {
    const result = validatePixtralDeployment(aPixtralDeployment(spec));
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it('says what to change when minSize is above maxSize', () => {
    const result = validatePixtralDeployment(aPixtralDeployment({ minSize: 3, maxSize: 2 }));
    expect(result.ok ? [] : result.errors).toContainEqual({
      field: 'spec.maxSize',
      message:
        'spec.maxSize is below spec.minSize; set spec.maxSize to at least spec.minSize, or lower spec.minSize',
    });
  });

  it('names every unknown field, one error each', () => {
    const result = validatePixtralDeployment(aPixtralDeployment({ replicas: 2, gpu: 'H100' }));
    expect(result.ok ? [] : result.errors.map((e) => e.field).sort()).toEqual(['spec.gpu', 'spec.replicas']);
  });
});

describe('PixtralDeployment status', () => {
  const uuid = '6f1c2d0e-8a4b-4c6d-9e8f-0a1b2c3d4e5f';

  it('accepts the status the operator writes', () => {
    const status = {
      uuid,
      phase: 'Ready',
      endpoints: { public: `https://${uuid}.inference.example.com/v1` },
      readyReplicas: 1,
      observedGeneration: 3,
      conditions: [
        {
          type: 'Available',
          status: 'True',
          observedGeneration: 3,
          lastTransitionTime: '2026-01-02T03:04:05Z',
          reason: 'MinimumReplicasAvailable',
          message: '1 of 1 replicas are ready.',
        },
      ],
      weights: { revision: 'a9da202d8e3192195835f077c43435c8b22545ab', digest: `sha256:${'a'.repeat(64)}` },
    };
    expect(PixtralDeploymentStatusSchema.safeParse(status).error?.issues).toBeUndefined();
  });

  it.each([
    ['an unknown phase', { phase: 'Running' }, 'phase'],
    [
      'a condition reason with spaces',
      {
        conditions: [
          {
            type: 'Available',
            status: 'True',
            lastTransitionTime: '2026-01-02T03:04:05Z',
            reason: 'All good',
            message: '',
          },
        ],
      },
      'conditions',
    ],
    ['a digest without its algorithm', { weights: { digest: 'a'.repeat(64) } }, 'weights'],
  ])('refuses %s', (_name, status, field) => {
    const issues = PixtralDeploymentStatusSchema.safeParse(status).error?.issues ?? [];
    expect(issues.map((i) => i.path[0])).toContain(field);
  });

  it('refuses to change or remove a uuid once set, and allows setting it the first time', () => {
    expect(checkStatusTransition({}, { uuid })).toEqual([]);
    expect(checkStatusTransition({ uuid }, { uuid })).toEqual([]);
    expect(
      checkStatusTransition({ uuid }, { uuid: '00000000-0000-4000-8000-000000000000' })[0]?.path,
    ).toEqual(['uuid']);
    expect(checkStatusTransition({ uuid }, {})[0]?.message).toContain(`keep status.uuid ${uuid}`);
  });
});
