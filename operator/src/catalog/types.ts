/**
 * The shape of one model catalog entry. The catalog is the single place that knows what a model
 * needs (weights, vLLM flags, GPUs per node type, limits); the CRD's CEL rules, the weights
 * provisioner and the Deployment builder all read it, so adding a model is adding one entry.
 */

/** A node type name as users write it in `spec.nodeType`. */
export type NodeTypeName = 'H100' | 'H100-2';

/** Every node type the operator knows, in the order the CRD lists them. */
export const NODE_TYPES: readonly NodeTypeName[] = ['H100', 'H100-2'];

/** How one model runs on one node type. */
export interface NodeTypeProfile {
  /** GPUs requested per serving pod (`nvidia.com/gpu`). */
  readonly gpus: number;
  /** vLLM `--tensor-parallel-size`; equals `gpus` for a single-node replica. */
  readonly tensorParallelSize: number;
}

/** One file of a model's weights, as stored in the Hugging Face repository at the pinned revision. */
export interface WeightsFile {
  /** Path inside the repository, e.g. `consolidated.safetensors`. */
  readonly path: string;
  /** Size in bytes. When `sizeIsExact` is false this is a rounded figure, good for sizing volumes and
   * progress only; the provisioner must then trust the server's Content-Length and the SHA-256. */
  readonly sizeBytes: number;
  /** Whether `sizeBytes` is the exact byte count. */
  readonly sizeIsExact: boolean;
  /**
   * Lower-case hex SHA-256 of an LFS/Xet file, as the hub itself publishes it (`lfs.oid`); the
   * provisioner checks that the hub still says the same at the revision and refuses a file that does
   * not match. Absent for a plain git file: the hub publishes no SHA-256 for it, only its git blob id,
   * which the provisioner reads from the hub at the pinned revision and verifies. Never a digest
   * computed here from a web page's text.
   */
  readonly sha256?: string;
  /** How the file is stored on the hub: `lfs` (a SHA-256 is published) or `git` (a blob id only). */
  readonly storage: 'lfs' | 'git';
  /** Where `sizeBytes` and `sha256` were read, so a reviewer can re-check them. */
  readonly provenance: string;
}

/** Where the weights come from. */
export interface WeightsSource {
  /** Hugging Face repository id, e.g. `mistralai/Pixtral-12B-2409`. */
  readonly huggingFaceRepo: string;
  /** Full 40-hex commit sha; never a branch name, so the bytes cannot change under us. */
  readonly revision: string;
  /** Whether the repository is gated (needs an accepted licence and a token to download). */
  readonly gated: boolean;
  /** The files vLLM needs, nothing more. */
  readonly files: readonly WeightsFile[];
}

/** A model the operator can deploy. */
export interface CatalogModel {
  /** Catalog name, exactly as clients send it in `model` and as `spec.model` holds it. */
  readonly name: string;
  /** One line for humans (CRD docs, events). */
  readonly description: string;
  /** The largest `spec.maxContextLength` allowed, in tokens (prompt plus completion). */
  readonly maxContextLength: number;
  /** The largest `spec.maxImagesPerRequest` allowed. */
  readonly maxImagesPerRequest: number;
  /** Node types this model runs on, with the GPUs and tensor parallelism each implies. */
  readonly nodeTypes: Readonly<Partial<Record<NodeTypeName, NodeTypeProfile>>>;
  readonly weights: WeightsSource;
  /** vLLM flags that depend only on the model (the per-deployment ones are added by `vllmArgs`). */
  readonly vllmModelArgs: readonly string[];
}
