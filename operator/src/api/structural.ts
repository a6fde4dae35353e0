/**
 * Turns zod's OpenAPI 3.0 output into a Kubernetes *structural* schema
 * (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema).
 * Hand-written because no library targets the CRD dialect: zod emits plain OpenAPI, and the
 * API server refuses some of it (`additionalProperties: false` next to `properties`, `$schema`,
 * `propertyNames`, `const`) while wanting its own extensions (`x-kubernetes-int-or-string`).
 * Anything this function does not know how to map throws, so a new zod construct cannot slip
 * into the CRD unnoticed.
 */

/** A JSON schema node, loosely typed: we only rewrite known keys. */
export type JsonSchema = { [key: string]: unknown };

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/**
 * Metadata key (set with zod's `.meta()`) that turns a node's `pattern` into a CEL
 * `self.matches()` rule carrying this message: the API server's own pattern error prints the
 * regular expression, which tells a user nothing about what to write instead.
 */
export const PATTERN_MESSAGE = 'x-pixtral-pattern-message';
const ALLOWED_KEYS = new Set([
  'type',
  'format',
  'description',
  'default',
  'enum',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'anyOf',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  PATTERN_MESSAGE,
]);

/** Formats the API server checks itself; zod's regex twin of them is dropped to keep the CRD readable. */
const SERVER_CHECKED_FORMATS = new Set(['date-time', 'uuid']);

/** Returns a structural copy of `schema` (the input is not modified). `path` is for error messages. */
export function toStructural(schema: JsonSchema, path = ''): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema' || key === 'id' || key === '$id') continue;
    if (key === 'propertyNames') {
      // zod writes the key schema of z.record here; Kubernetes has no such keyword. Key rules
      // live in zod (and, where the API server must enforce them, in CEL).
      continue;
    }
    if (key === 'const') {
      out.enum = [value];
      continue;
    }
    if (!ALLOWED_KEYS.has(key)) throw new Error(`${path || '<root>'}: no structural mapping for "${key}"`);
    out[key] = value;
  }
  if ('$ref' in schema || '$defs' in schema) throw new Error(`${path}: $ref cannot be used in a CRD schema`);

  // Objects with known properties: Kubernetes prunes unknown fields and forbids
  // `additionalProperties` next to `properties`.
  if (out.properties !== undefined) {
    if (out.additionalProperties === false) delete out.additionalProperties;
    const props: JsonSchema = {};
    for (const [name, sub] of Object.entries(out.properties as Record<string, JsonSchema>)) {
      props[name] = toStructural(sub, `${path}.${name}`);
    }
    out.properties = props;
  } else if (out.additionalProperties !== undefined && typeof out.additionalProperties === 'object') {
    out.additionalProperties = toStructural(out.additionalProperties as JsonSchema, `${path}[*]`);
  }
  if (out.items !== undefined) out.items = toStructural(out.items as JsonSchema, `${path}[]`);

  if (out.anyOf !== undefined) return intOrString(out, path);

  if (out.type === 'integer') {
    if (out.minimum === -SAFE_INT) delete out.minimum;
    if (out.maximum === SAFE_INT) delete out.maximum;
  }
  if (typeof out.format === 'string' && SERVER_CHECKED_FORMATS.has(out.format)) delete out.pattern;
  if (out[PATTERN_MESSAGE] !== undefined) patternToCel(out, path);
  return out;
}

/** `z.union([z.int(), z.string()])` becomes Kubernetes' int-or-string; other unions are refused. */
function intOrString(node: JsonSchema, path: string): JsonSchema {
  const branches = node.anyOf as JsonSchema[];
  const types = branches.map((b) => b.type).sort();
  if (branches.length !== 2 || types[0] !== 'integer' || types[1] !== 'string') {
    throw new Error(`${path}: only integer-or-string unions can be written in a CRD schema`);
  }
  const str = branches.find((b) => b.type === 'string')!;
  const { anyOf: _drop, ...rest } = node;
  const out: JsonSchema = {
    ...rest,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  };
  // Value checks of the string branch move up: in a structural schema the branches of anyOf
  // may not carry them next to `type`. `pattern` only applies to strings, so integers pass.
  if (str.pattern !== undefined) out.pattern = str.pattern;
  if (str.maxLength !== undefined) out.maxLength = str.maxLength;
  return out;
}

/** Moves `pattern` into a CEL rule with the human message of `PATTERN_MESSAGE` (mutates `node`). */
function patternToCel(node: JsonSchema, path: string): void {
  const pattern = node.pattern;
  const message = node[PATTERN_MESSAGE];
  delete node[PATTERN_MESSAGE];
  if (typeof pattern !== 'string' || typeof message !== 'string' || pattern.includes("'")) {
    throw new Error(`${path}: ${PATTERN_MESSAGE} needs a string pattern without quotes and a message`);
  }
  delete node.pattern;
  const rules = (node['x-kubernetes-validations'] as object[] | undefined) ?? [];
  // A raw CEL string (r'...') keeps the regular expression's backslashes as they are.
  node['x-kubernetes-validations'] = [{ rule: `self.matches(r'${pattern}')`, message }, ...rules];
}
