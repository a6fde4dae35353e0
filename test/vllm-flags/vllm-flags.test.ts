/**
 * The operator's vLLM command line against vLLM's own option table for the version the chart
 * pins (vllm-<version>-serve.json, dumped from vLLM's parser by dump-serve-args.sh), and the
 * stand-in's parser that enforces the same table.
 */
import { describe, expect, it } from 'vitest';
import { findModel, vllmArgs } from '../../operator/src/catalog/index.ts';
import { OperatorConfigSchema, VLLM_COMMAND, VLLM_VERSION } from '../../operator/src/config.ts';
import { parseServeArgs, UsageError, validateServeArgs, vllmOptionTable } from '../upstream-stub/vllm-cli.ts';

const pixtral = findModel('mistral/pixtral-12b-2409:bf16')!;
const table = vllmOptionTable(VLLM_VERSION);

const operatorArgs = (nodeType: 'H100' | 'H100-2') =>
  vllmArgs({
    model: pixtral,
    nodeType,
    modelDir: '/weights',
    maxContextLength: pixtral.maxContextLength,
    maxImagesPerRequest: pixtral.maxImagesPerRequest,
    port: 8000,
  });

describe(`vLLM ${VLLM_VERSION}'s serve options`, () => {
  it('come from the vLLM version the chart and the operator default to', () => {
    expect(table.vllm).toBe(VLLM_VERSION);
    expect(OperatorConfigSchema.parse({}).images.vllm).toBe(`vllm/vllm-openai:v${VLLM_VERSION}`);
    expect(VLLM_COMMAND).toEqual(['vllm', 'serve']);
  });

  it.each(['H100', 'H100-2'] as const)('accept every argument the operator passes on %s', (nodeType) => {
    const args = operatorArgs(nodeType);
    const known = new Set(table.options.flatMap((o) => o.options));
    const options = args.filter((a) => a.startsWith('--'));
    expect(options.filter((o) => !known.has(o))).toEqual([]);
    const parsed = parseServeArgs(['serve', ...args], table);
    validateServeArgs(parsed);
    expect(parsed).toMatchObject({
      model: '/weights',
      servedModelName: pixtral.name,
      host: '127.0.0.1',
      port: 8000,
    });
    expect(parsed.values['--tensor-parallel-size']).toBe(nodeType === 'H100' ? '1' : '2');
  });

  it.each([
    [['--no-such-flag'], 'unrecognized arguments: --no-such-flag'],
    [['--port'], 'argument --port: expected one argument'],
    [['--port', 'eighty'], "argument --port: invalid int value: 'eighty'"],
    [['--dtype', 'float8'], "argument --dtype: invalid choice: 'float8'"],
    [['--limit-mm-per-prompt', 'image=12'], 'argument --limit-mm-per-prompt'],
  ])('refuse %j like vLLM (exit 2)', (extra, message) => {
    const run = () => validateServeArgs(parseServeArgs(['serve', '--model', '/weights', ...extra], table));
    expect(run).toThrow(UsageError);
    expect(run).toThrow(message);
  });
});
