/**
 * Test fixtures for PixtralDeployment: a valid resource builder and the table of invalid resources
 * that both the zod unit tests and the kube-apiserver tests run (docs/conventions.md#tests).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** A loosely typed manifest. */
// biome-ignore lint/suspicious/noExplicitAny: cases write wrong types on purpose
export type Manifest = { [key: string]: any };

const ROOT = join(import.meta.dirname, '..', '..');

/** A sample from crds/samples, parsed. */
export function sample(name: 'minimal' | 'complete'): Manifest {
  return parse(readFileSync(join(ROOT, 'crds', 'samples', `${name}.yaml`), 'utf8')) as Manifest;
}

/** A valid PixtralDeployment; `spec` entries override the defaults of the fixture. */
export function aPixtralDeployment(spec: Manifest = {}, name = 'vision'): Manifest {
  return {
    apiVersion: 'inference.pixtral.dev/v1alpha1',
    kind: 'PixtralDeployment',
    metadata: { name },
    spec: { model: 'mistral/pixtral-12b-2409:bf16', nodeType: 'H100', minSize: 1, maxSize: 1, ...spec },
  };
}

/** One invalid resource and the field its rejection must name. */
export interface InvalidCase {
  name: string;
  resource: Manifest;
  /** Dotted path the error must name, e.g. `spec.maxSize`. */
  field: string;
  /** Unknown fields are refused only with `fieldValidation=Strict` (kubectl's default); without it they are pruned. */
  unknownField?: boolean;
}

const without = (key: string): Manifest => {
  const r = aPixtralDeployment();
  delete r.spec[key];
  return r;
};

/** At least 25 bad resources, each wrong in exactly one way. */
export const INVALID_CASES: InvalidCase[] = [
  { name: 'model is a number', resource: aPixtralDeployment({ model: 12 }), field: 'spec.model' },
  {
    name: 'model is not in the catalog',
    resource: aPixtralDeployment({ model: 'mistral/pixtral-large:bf16' }),
    field: 'spec.model',
  },
  { name: 'model is empty', resource: aPixtralDeployment({ model: '' }), field: 'spec.model' },
  { name: 'model is missing', resource: without('model'), field: 'spec.model' },
  { name: 'nodeType is unknown', resource: aPixtralDeployment({ nodeType: 'A100' }), field: 'spec.nodeType' },
  {
    name: 'nodeType has the wrong case',
    resource: aPixtralDeployment({ nodeType: 'h100' }),
    field: 'spec.nodeType',
  },
  { name: 'nodeType is missing', resource: without('nodeType'), field: 'spec.nodeType' },
  { name: 'minSize is negative', resource: aPixtralDeployment({ minSize: -1 }), field: 'spec.minSize' },
  { name: 'minSize is a string', resource: aPixtralDeployment({ minSize: '1' }), field: 'spec.minSize' },
  { name: 'minSize is fractional', resource: aPixtralDeployment({ minSize: 1.5 }), field: 'spec.minSize' },
  {
    name: 'maxSize is negative',
    resource: aPixtralDeployment({ minSize: 0, maxSize: -2 }),
    field: 'spec.maxSize',
  },
  {
    name: 'minSize is above maxSize',
    resource: aPixtralDeployment({ minSize: 3, maxSize: 2 }),
    field: 'spec.maxSize',
  },
  {
    name: 'maxContextLength is above 128k',
    resource: aPixtralDeployment({ maxContextLength: 131073 }),
    field: 'spec.maxContextLength',
  },
  {
    name: 'maxContextLength is zero',
    resource: aPixtralDeployment({ maxContextLength: 0 }),
    field: 'spec.maxContextLength',
  },
  {
    name: 'maxImagesPerRequest is 13',
    resource: aPixtralDeployment({ maxImagesPerRequest: 13 }),
    field: 'spec.maxImagesPerRequest',
  },
  {
    name: 'maxImagesPerRequest is negative',
    resource: aPixtralDeployment({ maxImagesPerRequest: -1 }),
    field: 'spec.maxImagesPerRequest',
  },
  {
    name: 'secretName has upper case and underscores',
    resource: aPixtralDeployment({ apiKeys: { secretName: 'Vision_Keys' } }),
    field: 'spec.apiKeys.secretName',
  },
  {
    name: 'secretName starts with a dash',
    resource: aPixtralDeployment({ apiKeys: { secretName: '-keys' } }),
    field: 'spec.apiKeys.secretName',
  },
  {
    name: 'secretName is longer than 253',
    resource: aPixtralDeployment({ apiKeys: { secretName: 'k'.repeat(254) } }),
    field: 'spec.apiKeys.secretName',
  },
  {
    name: 'apiKeys has no secretName',
    resource: aPixtralDeployment({ apiKeys: {} }),
    field: 'spec.apiKeys.secretName',
  },
  {
    name: 'endpoints enables nothing',
    resource: aPixtralDeployment({ endpoints: {} }),
    field: 'spec.endpoints',
  },
  {
    name: 'disableAuth is a string',
    resource: aPixtralDeployment({ endpoints: { public: { disableAuth: 'yes' } } }),
    field: 'spec.endpoints.public.disableAuth',
  },
  {
    name: 'unknown field in spec',
    resource: aPixtralDeployment({ replicas: 2 }),
    field: 'spec.replicas',
    unknownField: true,
  },
  {
    name: 'unknown field in an endpoint',
    resource: aPixtralDeployment({ endpoints: { public: { host: 'x.example.com' } } }),
    field: 'spec.endpoints.public.host',
    unknownField: true,
  },
  { name: 'spec is missing', resource: { ...aPixtralDeployment(), spec: undefined }, field: 'spec' },
  {
    name: 'weights volume is too small for the model',
    resource: aPixtralDeployment({ weights: { size: '10Gi' } }),
    field: 'spec.weights.size',
  },
  {
    name: 'weights size is not a quantity',
    resource: aPixtralDeployment({ weights: { size: 'lots' } }),
    field: 'spec.weights.size',
  },
  {
    name: 'storageClassName has spaces',
    resource: aPixtralDeployment({ weights: { storageClassName: 'Fast SSD' } }),
    field: 'spec.weights.storageClassName',
  },
  {
    name: 'pod labels override an operator label',
    resource: aPixtralDeployment({ pod: { labels: { 'app.kubernetes.io/name': 'mine' } } }),
    field: 'spec.pod.labels',
  },
  {
    name: 'pod label value has spaces',
    resource: aPixtralDeployment({ pod: { labels: { team: 'vision team' } } }),
    field: 'spec.pod.labels',
  },
  {
    name: 'vllm resources request GPUs',
    resource: aPixtralDeployment({ resources: { vllm: { limits: { 'nvidia.com/gpu': 4 } } } }),
    field: 'spec.resources.vllm',
  },
  {
    name: 'sidecar cpu is not a quantity',
    resource: aPixtralDeployment({ resources: { sidecar: { requests: { cpu: 'lots' } } } }),
    field: 'spec.resources.sidecar.requests',
  },
  {
    name: 'toleration effect is unknown',
    resource: aPixtralDeployment({ pod: { tolerations: [{ key: 'a', effect: 'Sometimes' }] } }),
    field: 'spec.pod.tolerations[0].effect',
  },
];
