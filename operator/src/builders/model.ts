/**
 * The model a deployment serves: its catalog entry, with the weights source the operator
 * configuration puts in its place (`weights.sources`, e.g. a private mirror's re-packed copy).
 * Everything downstream (the cache's name and size, the provisioner's spec, the weights digest in
 * status, the pod template's revision) reads the result, so a configured source is pinned and
 * verified exactly as the catalog's own.
 */
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { type CatalogModel, findModel } from '../catalog/index.ts';
import type { OperatorConfig } from '../config.ts';

/** Where a configured source's figures come from, for whoever reads a file's `provenance`. */
const CONFIGURED_PROVENANCE = 'operator configuration weights.sources';

/** `model` with its weights replaced by the configured source for its name, if there is one. */
export function withConfiguredWeights(model: CatalogModel, config: OperatorConfig): CatalogModel {
  const source = config.weights.sources[model.name];
  if (source === undefined) return model;
  return {
    ...model,
    weights: {
      huggingFaceRepo: source.repo,
      revision: source.revision,
      gated: model.weights.gated,
      files: source.files.map((f) => ({
        path: f.path,
        sizeBytes: f.sizeBytes,
        sizeIsExact: true,
        storage: f.sha256 === undefined ? 'git' : 'lfs',
        ...(f.sha256 === undefined ? {} : { sha256: f.sha256 }),
        provenance: CONFIGURED_PROVENANCE,
      })),
    },
  };
}

/** The model named `name` as this configuration serves it, or undefined for a name not in the catalog. */
export function configuredModel(name: string, config: OperatorConfig): CatalogModel | undefined {
  const model = findModel(name);
  return model && withConfiguredWeights(model, config);
}

/**
 * The model `cr` serves under `config`. Throws for a model the catalog does not know; the CRD
 * refuses such resources, so this only fires for objects that bypassed validation.
 */
export function catalogModel(cr: PixtralDeployment, config: OperatorConfig): CatalogModel {
  const model = configuredModel(cr.spec.model, config);
  if (!model)
    throw new Error(`PixtralDeployment ${cr.metadata.name}: model ${cr.spec.model} is not in the catalog`);
  return model;
}
