import type { CatalogModel } from './types.ts';

/**
 * Pixtral-12B-2409 in bf16, as Mistral published it (consolidated format, Tekken tokenizer).
 *
 * Revision a9da202d… is the release commit ("Code relesae", 2024-09-11), the last commit that
 * touched consolidated.safetensors and tekken.json. Later commits changed params.json (2bf7df5,
 * 453 → 552 bytes, content not verified here) and the README only; we pin the release so every
 * hash below refers to one tree.
 *
 * Provenance of the figures (read from stored copies of huggingface.co pages, not downloaded):
 * - consolidated.safetensors: SHA-256 from the file's Xet pointer page
 *   (huggingface.co/mistralai/Pixtral-12B-2409/blob/main/consolidated.safetensors, last changed in
 *   a9da202). The page only gives the size rounded ("25.4 GB"), so `sizeIsExact` is false.
 * - tekken.json: SHA-256 from the pointer page at blob/a9da202…/tekken.json; size "19.3 MB", rounded.
 *   (Mistral's PyPI tekken_240911.json is a different file: it renames the `multimodal` key.)
 * - params.json: a plain git file; the hub publishes no SHA-256 for it, only its git blob id. The
 *   catalog pins none: the provisioner asks the hub (paths-info) for the blob id at the pinned
 *   revision and verifies the bytes against it, so the revision alone pins the content.
 * Both SHA-256 values are the hub's own (`lfs.oid`); the provisioner refuses to start if the hub
 * says otherwise at the revision.
 */
export const pixtral12b2409Bf16: CatalogModel = {
  name: 'mistral/pixtral-12b-2409:bf16',
  description: 'Pixtral 12B (2409): 12B multimodal decoder plus a 400M vision encoder, bf16 weights',
  maxContextLength: 131072,
  maxImagesPerRequest: 12,
  nodeTypes: {
    H100: { gpus: 1, tensorParallelSize: 1 },
    'H100-2': { gpus: 2, tensorParallelSize: 2 },
  },
  weights: {
    huggingFaceRepo: 'mistralai/Pixtral-12B-2409',
    revision: 'a9da202d8e3192195835f077c43435c8b22545ab',
    gated: true,
    files: [
      {
        path: 'consolidated.safetensors',
        sizeBytes: 25_400_000_000,
        sizeIsExact: false,
        storage: 'lfs',
        sha256: '4816a81eef8c05103d7b6df82bf27d3d59f6066e8f1e4245568aaa39326cf4b4',
        provenance:
          'learned from the hub: Xet pointer of the blob page (size rounded to 25.4 GB); checked against paths-info at every provisioning',
      },
      {
        path: 'params.json',
        sizeBytes: 453,
        sizeIsExact: true,
        storage: 'git',
        provenance:
          'size from the huggingface.co tree page; verified by the git blob id the hub gives at the revision (no SHA-256 pinned)',
      },
      {
        path: 'tekken.json',
        sizeBytes: 19_300_000,
        sizeIsExact: false,
        storage: 'lfs',
        sha256: '386b1f98fba69b38c3de512a4eb602dc69a95dae0e54e6ce048ea3e29a2627a8',
        provenance:
          'learned from the hub: Xet pointer of the blob page at a9da202 (size rounded to 19.3 MB); checked against paths-info at every provisioning',
      },
    ],
  },
  // Mistral's consolidated format needs all three "mistral" modes: the tokenizer from tekken.json
  // (mistral-common, whose token counts the sidecar reproduces), the config from params.json and
  // the weights from consolidated.safetensors. Without them vLLM looks for HF config.json and fails.
  // Pixtral calls functions ([TOOL_CALLS] in its v3 tokenizer): with the mistral parser vLLM turns
  // them into OpenAI `tool_calls`; without it, a request with `tools` (tool_choice "auto" by
  // default) is refused.
  vllmModelArgs: [
    '--tokenizer-mode',
    'mistral',
    '--config-format',
    'mistral',
    '--load-format',
    'mistral',
    '--enable-auto-tool-choice',
    '--tool-call-parser',
    'mistral',
  ],
};
