import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILE, pixtralDeploymentCrd, pixtralDeploymentCrdYaml } from './crd.ts';
import { toStructural } from './structural.ts';

const root = join(import.meta.dirname, '..', '..', '..');

type Schema = {
  [key: string]: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: unknown;
};

function everyNode(schema: Schema, visit: (node: Schema, path: string) => void, path = ''): void {
  visit(schema, path);
  for (const [name, sub] of Object.entries(schema.properties ?? {})) everyNode(sub, visit, `${path}.${name}`);
  if (schema.items) everyNode(schema.items, visit, `${path}[]`);
  if (typeof schema.additionalProperties === 'object')
    everyNode(schema.additionalProperties as Schema, visit, `${path}{}`);
}

const openApiSchema = (): Schema =>
  // biome-ignore lint/suspicious/noExplicitAny: walking a plain object
  (pixtralDeploymentCrd() as any).spec.versions[0].schema.openAPIV3Schema;

describe('the generated CRD', () => {
  it(`is what is checked in at ${CRD_FILE} (run npm run gen:crd when this fails)`, () => {
    expect(readFileSync(join(root, CRD_FILE), 'utf8')).toBe(pixtralDeploymentCrdYaml());
  });

  it('parses back to the object it was generated from', () => {
    expect(parse(pixtralDeploymentCrdYaml())).toEqual(pixtralDeploymentCrd());
  });

  it('has no construct a structural schema forbids', () => {
    const offending: string[] = [];
    everyNode(openApiSchema(), (node, path) => {
      for (const key of ['$schema', '$ref', 'propertyNames', 'const', 'oneOf', 'nullable']) {
        if (key in node) offending.push(`${path}: ${key}`);
      }
      if (node.properties && 'additionalProperties' in node)
        offending.push(`${path}: additionalProperties with properties`);
    });
    expect(offending).toEqual([]);
  });

  it('marks conditions as a list map keyed by type', () => {
    const conditions = openApiSchema().properties?.status?.properties?.conditions;
    expect(conditions?.['x-kubernetes-list-type']).toBe('map');
    expect(conditions?.['x-kubernetes-list-map-keys']).toEqual(['type']);
  });
});

describe('toStructural', () => {
  it('turns an integer-or-string union into x-kubernetes-int-or-string, keeping the string pattern', () => {
    expect(
      toStructural({
        anyOf: [
          { type: 'integer', minimum: 0 },
          { type: 'string', pattern: '^[0-9]+m$' },
        ],
      }),
    ).toEqual({
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      pattern: '^[0-9]+m$',
    });
  });

  it('refuses other unions, naming the path', () => {
    expect(() =>
      toStructural({
        type: 'object',
        properties: { a: { anyOf: [{ type: 'string' }, { type: 'boolean' }] } },
      }),
    ).toThrow('.a: only integer-or-string unions');
  });

  it('refuses a keyword it has no mapping for', () => {
    expect(() => toStructural({ type: 'string', contentEncoding: 'base64' })).toThrow(
      'no structural mapping for "contentEncoding"',
    );
  });

  it('drops additionalProperties: false next to properties, since Kubernetes prunes instead', () => {
    expect(
      toStructural({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }),
    ).toEqual({
      type: 'object',
      properties: { a: { type: 'string' } },
    });
  });
});
