import { quantityValue } from '../builders/quantity.ts';
import {
  type CatalogModel,
  findModel,
  MODEL_CATALOG,
  minWeightsVolumeGi,
  nodeTypesFor,
} from '../catalog/index.ts';

/**
 * The rules a schema alone cannot say, written twice side by side: as CEL for the CRD's
 * `x-kubernetes-validations` (the API server enforces them) and as TypeScript for the zod schema
 * (unit tests, the operator's own checks). Both are generated from the model catalog, and
 * test/api runs one table of bad resources through both, so they cannot drift apart unnoticed.
 */

/** One entry of `x-kubernetes-validations`, as the CRD API spells it. */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  optionalOldSelf?: boolean;
}

/** A violation found by a TypeScript twin of a CEL rule: path below `spec`, and the message. */
export interface RuleViolation {
  path: string[];
  message: string;
}

/** The fields of `spec` the cross-field rules read (after defaults were applied). */
export interface RuleInput {
  model: string;
  nodeType: string;
  minSize: number;
  maxSize?: number | undefined;
  maxContextLength?: number | undefined;
  maxImagesPerRequest?: number | undefined;
  weights?: { size?: string | undefined } | undefined;
}

/** A CEL string literal; catalog names are plain, but quote defensively. */
function celString(s: string): string {
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function celList(items: readonly string[]): string {
  return `[${items.map(celString).join(', ')}]`;
}

/** A CEL map literal from model name to a value already written as CEL. */
function celModelMap(catalog: readonly CatalogModel[], value: (m: CatalogModel) => string): string {
  return `{${catalog.map((m) => `${celString(m.name)}: ${value(m)}`).join(', ')}}`;
}

const MAX_SIZE_MESSAGE =
  'spec.maxSize is below spec.minSize; set spec.maxSize to at least spec.minSize, or lower spec.minSize';

const knownModels = (catalog: readonly CatalogModel[] = MODEL_CATALOG): string =>
  catalog.map((m) => m.name).join(', ');

/** The rule on `spec.model` itself: the name must be in the catalog. */
export function modelRules(catalog: readonly CatalogModel[] = MODEL_CATALOG): CelRule[] {
  return [
    {
      rule: `self in ${celList(catalog.map((m) => m.name))}`,
      messageExpression: `'spec.model ' + self + ' is not in the model catalog; set spec.model to one of: ${knownModels(catalog)}'`,
      reason: 'FieldValueInvalid',
    },
  ];
}

/** TypeScript twin of `modelRules`. */
export function checkModel(model: string): RuleViolation | undefined {
  if (findModel(model)) return undefined;
  return {
    path: ['model'],
    message: `spec.model ${model} is not in the model catalog; set spec.model to one of: ${knownModels()}`,
  };
}

/** Rules on the `spec` object: sizes, node type per model, per-model limits, weights volume size. */
export function specRules(catalog: readonly CatalogModel[] = MODEL_CATALOG): CelRule[] {
  // Numbers are not printed with string(): the API server's cost estimator treats its result as
  // unbounded and refuses the CRD (measured on 1.36); limits are written as string literals instead.
  const perModel = (field: string, limit: (m: CatalogModel) => number): CelRule => {
    const limits = celModelMap(catalog, (m) => String(limit(m)));
    const limitTexts = celModelMap(catalog, (m) => celString(String(limit(m))));
    return {
      rule: `!has(self.${field}) || !(self.model in ${limits}) || self.${field} <= ${limits}[self.model]`,
      messageExpression: `'spec.${field} is above what model ' + self.model + ' supports; set spec.${field} to at most ' + ${limitTexts}[self.model]`,
      fieldPath: `.${field}`,
    };
  };
  const nodeTypeClauses = catalog
    .map((m) => `(self.model != ${celString(m.name)} || self.nodeType in ${celList(nodeTypesFor(m))})`)
    .join(' && ');
  const minVolume = celModelMap(catalog, (m) => celString(`${minWeightsVolumeGi(m)}Gi`));
  return [
    {
      rule: '!has(self.maxSize) || self.minSize <= self.maxSize',
      message: MAX_SIZE_MESSAGE,
      fieldPath: '.maxSize',
    },
    {
      rule: nodeTypeClauses,
      messageExpression: `'spec.nodeType ' + self.nodeType + ' is not available for model ' + self.model + '; set spec.nodeType to one of: ' + ${celModelMap(catalog, (m) => celString(nodeTypesFor(m).join(', ')))}[self.model]`,
      fieldPath: '.nodeType',
    },
    perModel('maxContextLength', (m) => m.maxContextLength),
    perModel('maxImagesPerRequest', (m) => m.maxImagesPerRequest),
    {
      rule: `!has(self.weights) || !has(self.weights.size) || !isQuantity(self.weights.size) || !(self.model in ${minVolume}) || quantity(self.weights.size).compareTo(quantity(${minVolume}[self.model])) >= 0`,
      messageExpression: `'spec.weights.size ' + self.weights.size + ' cannot hold the weights of ' + self.model + '; set spec.weights.size to at least ' + ${minVolume}[self.model]`,
      fieldPath: '.weights.size',
    },
  ];
}

/** TypeScript twin of `specRules`, for a spec whose defaults were applied. */
export function checkSpec(spec: RuleInput): RuleViolation[] {
  const out: RuleViolation[] = [];
  if (spec.maxSize !== undefined && spec.minSize > spec.maxSize) {
    out.push({
      path: ['maxSize'],
      message: MAX_SIZE_MESSAGE,
    });
  }
  const model = findModel(spec.model);
  if (!model) return out;
  const allowed = nodeTypesFor(model);
  if (!(allowed as string[]).includes(spec.nodeType)) {
    out.push({
      path: ['nodeType'],
      message: `spec.nodeType ${spec.nodeType} is not available for model ${model.name}; set spec.nodeType to one of: ${allowed.join(', ')}`,
    });
  }
  for (const field of ['maxContextLength', 'maxImagesPerRequest'] as const) {
    const value = spec[field];
    if (value !== undefined && value > model[field]) {
      out.push({
        path: [field],
        message: `spec.${field} is above what model ${model.name} supports; set spec.${field} to at most ${model[field]}`,
      });
    }
  }
  const size = spec.weights?.size;
  const minGi = minWeightsVolumeGi(model);
  if (size !== undefined && bytesOf(size) < minGi * 1024 ** 3) {
    out.push({
      path: ['weights', 'size'],
      message: `spec.weights.size ${size} cannot hold the weights of ${model.name}; set spec.weights.size to at least ${minGi}Gi`,
    });
  }
  return out;
}

/**
 * Bytes of a quantity. client-node's parser refuses decimals with a suffix ("1.5Ti"); those are
 * rare for volumes, so they count as large enough here and the API server's CEL `quantity()`
 * stays the authority.
 */
function bytesOf(quantity: string): number {
  try {
    return quantityValue(quantity);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Transition rule on `status`: the uuid, once set, never changes and is never removed. */
export function statusRules(): CelRule[] {
  return [
    {
      rule: '!has(oldSelf.uuid) || (has(self.uuid) && self.uuid == oldSelf.uuid)',
      messageExpression:
        "'status.uuid is immutable once set: keep status.uuid ' + oldSelf.uuid + ' (it names the public endpoint)'",
      fieldPath: '.uuid',
    },
  ];
}
