import { describe, expect, it } from 'vitest';
import { modelRules, specRules } from '../api/rules.ts';
import {
  catalogLimits,
  findModel,
  MODEL_CATALOG,
  minWeightsVolumeGi,
  nodeTypesFor,
  vllmArgs,
} from './index.ts';
import type { CatalogModel } from './types.ts';

const pixtral = findModel('mistral/pixtral-12b-2409:bf16')!;

describe('model catalog', () => {
  it.each(MODEL_CATALOG.map((m) => [m.name, m] as const))('%s pins its weights exactly', (_name, model) => {
    expect(model.weights.revision).toMatch(/^[0-9a-f]{40}$/);
    for (const file of model.weights.files) {
      // LFS files pin the hub's SHA-256; plain git files pin nothing (the hub's blob id is checked).
      if (file.storage === 'lfs') expect(file.sha256, file.path).toMatch(/^[0-9a-f]{64}$/);
      else expect(file.sha256, file.path).toBeUndefined();
      expect(file.provenance, file.path).not.toMatch(/reconstruct/i);
      expect(file.sizeBytes, file.path).toBeGreaterThan(0);
    }
    expect(new Set(model.weights.files.map((f) => f.path)).size).toBe(model.weights.files.length);
  });

  it.each(MODEL_CATALOG.map((m) => [m.name, m] as const))(
    '%s uses tensor parallelism equal to its GPUs',
    (_n, model) => {
      for (const profile of Object.values(model.nodeTypes))
        expect(profile?.tensorParallelSize).toBe(profile?.gpus);
    },
  );

  it('describes Pixtral-12B-2409 as the design says', () => {
    expect(pixtral.weights.huggingFaceRepo).toBe('mistralai/Pixtral-12B-2409');
    expect(pixtral.weights.files.map((f) => f.path)).toEqual([
      'consolidated.safetensors',
      'params.json',
      'tekken.json',
    ]);
    expect([pixtral.maxContextLength, pixtral.maxImagesPerRequest]).toEqual([131072, 12]);
    expect(pixtral.nodeTypes).toEqual({
      H100: { gpus: 1, tensorParallelSize: 1 },
      'H100-2': { gpus: 2, tensorParallelSize: 2 },
    });
    expect(catalogLimits()).toEqual({ maxContextLength: 131072, maxImagesPerRequest: 12 });
    expect(minWeightsVolumeGi(pixtral)).toBe(25);
  });

  it('builds the vLLM arguments Pixtral needs on two GPUs', () => {
    const args = vllmArgs({
      model: pixtral,
      nodeType: 'H100-2',
      modelDir: '/weights/m',
      maxContextLength: 65536,
      maxImagesPerRequest: 8,
      port: 8000,
    });
    expect(args.join(' ')).toBe(
      '/weights/m --served-model-name mistral/pixtral-12b-2409:bf16 --tokenizer-mode mistral --config-format mistral --load-format mistral --enable-auto-tool-choice --tool-call-parser mistral --tensor-parallel-size 2 --max-model-len 65536 --limit-mm-per-prompt {"image":8} --host 127.0.0.1 --port 8000',
    );
  });

  it('refuses to build vLLM arguments for a node type the model does not run on', () => {
    const singleGpu: CatalogModel = { ...pixtral, nodeTypes: { H100: { gpus: 1, tensorParallelSize: 1 } } };
    expect(() =>
      vllmArgs({
        model: singleGpu,
        nodeType: 'H100-2',
        modelDir: '/w',
        maxContextLength: 1,
        maxImagesPerRequest: 1,
        port: 1,
      }),
    ).toThrow('does not run on node type H100-2');
  });
});

describe('CEL rules follow the catalog', () => {
  const small: CatalogModel = {
    ...pixtral,
    name: 'example/small:bf16',
    maxContextLength: 32768,
    maxImagesPerRequest: 4,
    nodeTypes: { H100: { gpus: 1, tensorParallelSize: 1 } },
  };
  const catalog = [pixtral, small];

  it('lists every catalog model as known', () => {
    expect(modelRules(catalog)[0]?.rule).toBe(
      "self in ['mistral/pixtral-12b-2409:bf16', 'example/small:bf16']",
    );
  });

  it("limits each model's node types and context to its own entry", () => {
    const rules = specRules(catalog).map((r) => r.rule);
    expect(rules).toContain(
      "(self.model != 'mistral/pixtral-12b-2409:bf16' || self.nodeType in ['H100', 'H100-2']) && (self.model != 'example/small:bf16' || self.nodeType in ['H100'])",
    );
    expect(rules.find((r) => r.includes('maxContextLength'))).toContain("'example/small:bf16': 32768");
    expect(nodeTypesFor(small)).toEqual(['H100']);
  });
});
