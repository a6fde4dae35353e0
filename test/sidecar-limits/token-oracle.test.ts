/**
 * The sidecar's prompt token count equals mistral-common's (the reference vLLM uses for Pixtral)
 * on every request of a seeded corpus: many scripts, emoji, long texts, multi-turn with system
 * prompts, 0 to 12 real images of many sizes and formats, and conversations with tool definitions,
 * tool calls (OpenAI-style long ids, JSON in any layout, invalid JSON) and tool results, all
 * through the schema and the real preparer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createPreparer, type Preparer } from '../../runtime-image/src/sidecar/preparer.ts';
import { validateChatRequest } from '../../runtime-image/src/sidecar/schema.ts';
import { loadCorpus, type OracleCase, testTokenizer } from './oracle.ts';

let corpus: OracleCase[];
let preparer: Preparer;

beforeAll(async () => {
  corpus = loadCorpus();
  preparer = createPreparer({
    tokenizer: await testTokenizer(),
    maxImagesPerRequest: 12,
    maxContextLength: 10_000_000,
  });
});

describe('token count against mistral-common', () => {
  it('has a corpus of at least 200 requests, some with 12 images, some with none, some with tools', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(200);
    expect(corpus.some((c) => c.image_count === 12)).toBe(true);
    expect(corpus.some((c) => c.image_count === 0)).toBe(true);
    expect(corpus.filter((c) => (c.request.tools?.length ?? 0) > 0).length).toBeGreaterThanOrEqual(50);
  });

  it('matches the reference count on every request of the corpus', async () => {
    const mismatches: { id: number; expected: number; actual: number | undefined }[] = [];
    for (const c of corpus) {
      const prepared = await preparer(validateChatRequest(c.request), new AbortController().signal);
      if (prepared.promptTokens !== c.prompt_tokens)
        mismatches.push({ id: c.id, expected: c.prompt_tokens, actual: prepared.promptTokens });
    }
    expect(mismatches).toEqual([]);
  });
});
