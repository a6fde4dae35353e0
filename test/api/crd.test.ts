import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pixtralDeploymentCrd } from '../../operator/src/api/crd.ts';
import { validatePixtralDeployment } from '../fixtures/validate.ts';
import { freshNamespace, installCrds, sharedControlPlane } from '../harness/index.ts';
import { aPixtralDeployment, INVALID_CASES, type Manifest, sample } from './fixtures.ts';
import { Rest } from './rest.ts';

/**
 * The CRD against a real kube-apiserver: it installs, fills defaults, and refuses every bad
 * resource of the shared table with a message that names the field.
 *
 * Measured here (kube-apiserver 1.36): Kubernetes cannot refuse unknown fields from the schema
 * itself (a structural schema may not say `additionalProperties: false` next to `properties`);
 * it prunes them. Whether a write with unknown fields fails depends on the request's
 * `fieldValidation`: `Strict` refuses it ("strict decoding error: unknown field ..."), which is
 * what kubectl sends by default (`--validate=strict`); without the parameter the server uses
 * `Warn`: it stores the object without the field and returns a Warning header. The last test
 * pins both behaviours down.
 */

const cluster = sharedControlPlane();
const kc = cluster.kubeConfig();
const rest = new Rest(kc);
let namespace: string;

const collection = (ns: string) => `/apis/inference.pixtral.dev/v1alpha1/namespaces/${ns}/pixtraldeployments`;
const create = (resource: Manifest, fieldValidation = 'Strict') =>
  rest.request('POST', `${collection(namespace)}?fieldValidation=${fieldValidation}`, resource);

beforeAll(async () => {
  await installCrds(kc, [pixtralDeploymentCrd() as Record<string, unknown>]);
  namespace = await freshNamespace(kc, 'api');
});

afterAll(async () => {
  await rest.close();
});

describe('the PixtralDeployment CRD on a real API server', () => {
  it('is Established with the names of the design', async () => {
    const crd = await rest.request(
      'GET',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/pixtraldeployments.inference.pixtral.dev',
    );
    expect(crd.body.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Established', status: 'True' }),
    );
    expect(crd.body.spec.names).toMatchObject({
      shortNames: ['pxd'],
      categories: ['pixtral'],
      kind: 'PixtralDeployment',
    });
  });

  it('accepts the minimal sample and reads it back with the defaults filled', async () => {
    const created = await create({ ...sample('minimal'), metadata: { name: 'minimal' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const read = await rest.request('GET', `${collection(namespace)}/minimal`);
    expect(read.body.spec).toEqual({
      model: 'mistral/pixtral-12b-2409:bf16',
      nodeType: 'H100',
      minSize: 1,
      endpoints: { private: { disableAuth: false } },
    });
  });

  it('accepts the complete sample, keeps every field, and defaults disableAuth of the public endpoint', async () => {
    const complete = sample('complete');
    const created = await create(complete);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const read = await rest.request('GET', `${collection(namespace)}/${complete.metadata.name}`);
    expect(read.body.spec).toEqual({
      ...complete.spec,
      endpoints: { public: { disableAuth: false }, private: { disableAuth: true } },
    });
  });

  it.each(INVALID_CASES)('refuses a resource whose $name, naming $field', async ({ resource, field }) => {
    const name = `bad-${Math.random().toString(36).slice(2, 10)}`;
    const response = await create({ ...resource, metadata: { name } });
    expect(response.status, JSON.stringify(response.body)).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.body.message).toContain(field);
    // The catalog rules exist twice (CEL and TypeScript); where zod reports one of them, the API
    // server must say the same sentence.
    const zod = validatePixtralDeployment(resource);
    const ruleMessages = zod.ok ? [] : zod.errors.map((e) => e.message).filter((m) => m.startsWith('spec.'));
    for (const message of ruleMessages) expect(response.body.message).toContain(message);
  });

  it('refuses a change of status.uuid through the status subresource, naming status.uuid', async () => {
    const created = await create(aPixtralDeployment({}, 'uuid-pinned'));
    expect(created.status).toBe(201);
    const statusPath = `${collection(namespace)}/uuid-pinned/status`;
    const merge = (status: object) =>
      rest.request('PATCH', statusPath, { status }, 'application/merge-patch+json');

    const first = await merge({ uuid: '6f1c2d0e-8a4b-4c6d-9e8f-0a1b2c3d4e5f', phase: 'Creating' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const sameAgain = await merge({ uuid: '6f1c2d0e-8a4b-4c6d-9e8f-0a1b2c3d4e5f', phase: 'Deploying' });
    expect(sameAgain.status).toBe(200);

    const changed = await merge({ uuid: '00000000-0000-4000-8000-000000000000' });
    expect(changed.status).toBe(422);
    expect(changed.body.message).toContain('status.uuid');
    expect(changed.body.message).toContain('keep status.uuid 6f1c2d0e-8a4b-4c6d-9e8f-0a1b2c3d4e5f');

    const removed = await merge({ uuid: null });
    expect(removed.status).toBe(422);
    expect(removed.body.message).toContain('status.uuid');
  });

  it('treats conditions as a map keyed by type: a duplicate type is refused', async () => {
    const created = await create(aPixtralDeployment({}, 'conditions'));
    expect(created.status).toBe(201);
    const condition = {
      type: 'Available',
      status: 'True',
      lastTransitionTime: '2026-01-02T03:04:05Z',
      reason: 'DeploymentReady',
      message: 'Serving.',
    };
    const response = await rest.request(
      'PATCH',
      `${collection(namespace)}/conditions/status`,
      { status: { conditions: [condition, { ...condition, status: 'False' }] } },
      'application/merge-patch+json',
    );
    expect(response.status).toBe(422);
    expect(response.body.message).toContain('status.conditions[1]: Duplicate value');
  });

  it('refuses unknown fields only under fieldValidation=Strict; otherwise prunes them with a warning', async () => {
    const strict = await create(aPixtralDeployment({ replicas: 2 }, 'strict'));
    expect(strict.status).toBe(400);
    expect(strict.body.message).toContain('unknown field "spec.replicas"');

    const lenient = await rest.request(
      'POST',
      collection(namespace),
      aPixtralDeployment({ replicas: 2 }, 'lenient'),
    );
    expect(lenient.status).toBe(201);
    expect(lenient.warnings.join('\n')).toContain('unknown field "spec.replicas"');
    expect(lenient.body.spec).not.toHaveProperty('replicas');
  });

  it('prints the design columns for kubectl get pxd', async () => {
    const result = await cluster.kubectl(['get', 'pxd', '-n', namespace]);
    expect(result.code, result.stderr).toBe(0);
    const header = result.stdout
      .split('\n')[0]
      ?.trim()
      .split(/\s{2,}/);
    expect(header).toEqual(['NAME', 'MODEL', 'NODE TYPE', 'READY', 'STATUS', 'ENDPOINT', 'AGE']);
    expect(result.stdout).toMatch(/^minimal\s+mistral\/pixtral-12b-2409:bf16\s+H100\s/m);
  });

  it('lets kubectl refuse unknown fields by default', async () => {
    const manifest = JSON.stringify(aPixtralDeployment({ gpus: 4 }, 'kubectl-strict'));
    const result = await cluster.kubectl(['create', '-n', namespace, '-f', '-'], { input: manifest });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('unknown field "spec.gpus"');
  });
});
