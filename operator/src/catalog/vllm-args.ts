import type { CatalogModel, NodeTypeName } from './types.ts';

/** What one serving pod's vLLM needs to know beyond the catalog entry. */
export interface VllmArgsInput {
  readonly model: CatalogModel;
  readonly nodeType: NodeTypeName;
  /** Directory holding the weights files (the mounted, verified cache). */
  readonly modelDir: string;
  /** `--max-model-len`, in tokens; callers pass `spec.maxContextLength ?? model.maxContextLength`. */
  readonly maxContextLength: number;
  /** Images allowed per prompt; callers pass `spec.maxImagesPerRequest ?? model.maxImagesPerRequest`. */
  readonly maxImagesPerRequest: number;
  /** Loopback port vLLM listens on; only the sidecar in the same pod reaches it. */
  readonly port: number;
}

/**
 * The `vllm serve` arguments for one deployment, deterministic for a given input. The model
 * folder comes first, as the positional model tag: vLLM 0.33 still takes `--model` but warns that
 * it will be removed (checked against its parser by test/vllm-flags).
 *
 * `--max-model-len` is always set: without it vLLM derives 128000 from Mistral's params.json,
 * not the 131072 the catalog promises. `--limit-mm-per-prompt` is JSON because vLLM's older
 * `image=N` form was removed. vLLM binds to 127.0.0.1 so the sidecar is the only way in.
 * Throws when the node type is not allowed for the model (the CRD refuses that pair already).
 */
export function vllmArgs(input: VllmArgsInput): string[] {
  const profile = input.model.nodeTypes[input.nodeType];
  if (profile === undefined) {
    throw new Error(`Model ${input.model.name} does not run on node type ${input.nodeType}`);
  }
  return [
    input.modelDir,
    '--served-model-name',
    input.model.name,
    ...input.model.vllmModelArgs,
    '--tensor-parallel-size',
    String(profile.tensorParallelSize),
    '--max-model-len',
    String(input.maxContextLength),
    '--limit-mm-per-prompt',
    JSON.stringify({ image: input.maxImagesPerRequest }),
    '--host',
    '127.0.0.1',
    '--port',
    String(input.port),
  ];
}
