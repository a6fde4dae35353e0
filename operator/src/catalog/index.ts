import { pixtral12b2409Bf16 } from './pixtral-12b-2409.ts';
import { type CatalogModel, NODE_TYPES, type NodeTypeName } from './types.ts';

export {
  type CatalogModel,
  NODE_TYPES,
  type NodeTypeName,
  type NodeTypeProfile,
  type WeightsFile,
} from './types.ts';
export { type VllmArgsInput, vllmArgs } from './vllm-args.ts';

/**
 * Every model the operator can deploy. Adding a model is adding one entry here: the CRD's CEL rules
 * (known model, node types per model, per-model limits, minimum weights volume) are generated from
 * this list by `npm run gen:crd`, and the freshness test fails until the CRD is regenerated.
 */
export const MODEL_CATALOG: readonly CatalogModel[] = [pixtral12b2409Bf16];

const GIB = 1024 ** 3;

/** Returns the catalog entry named exactly `name` (as clients send it), or undefined. */
export function findModel(name: string): CatalogModel | undefined {
  return MODEL_CATALOG.find((m) => m.name === name);
}

/** The node types `model` runs on, in `NODE_TYPES` order. */
export function nodeTypesFor(model: CatalogModel): NodeTypeName[] {
  return NODE_TYPES.filter((t) => model.nodeTypes[t] !== undefined);
}

/**
 * The smallest weights volume, in GiB, that holds `model`'s files: their total size plus 5% for
 * file-system overhead, rounded up. The provisioner downloads into a temporary name on the same
 * volume and renames, so no second copy is needed.
 */
export function minWeightsVolumeGi(model: CatalogModel): number {
  const bytes = model.weights.files.reduce((sum, f) => sum + f.sizeBytes, 0);
  return Math.ceil((bytes * 1.05) / GIB);
}

/** The limits across the whole catalog: the OpenAPI maximums of the CRD (CEL narrows them per model). */
export function catalogLimits(): { maxContextLength: number; maxImagesPerRequest: number } {
  return {
    maxContextLength: Math.max(...MODEL_CATALOG.map((m) => m.maxContextLength)),
    maxImagesPerRequest: Math.max(...MODEL_CATALOG.map((m) => m.maxImagesPerRequest)),
  };
}
