/**
 * The Tekken tokenizer and Pixtral's image rule against reference values computed with
 * mistral-common (the image table includes Python's round-half-even traps).
 */
import { describe, expect, it } from 'vitest';
import { countChatTokens } from '../../runtime-image/src/sidecar/tokens/chat-template.ts';
import { pixtralImageGrid, roundHalfEven } from '../../runtime-image/src/sidecar/tokens/image-tokens.ts';
import { tekkenPattern } from '../../runtime-image/src/sidecar/tokens/tekken.ts';
import { testTokenizer } from './oracle.ts';

describe('Tekken text encoding', () => {
  it.each([
    ['Plz tekkenize me', [4444, 1122, 16058, 3569, 2033, 1639]],
    ['Hello, world!', [22177, 1044, 4304, 1033]],
    ['héllo wörld 你好', [67679, 109232, 1285, 3238, 1543, 1032, 124108]],
    ['12345', [1049, 1050, 1051, 1052, 1053]],
    ['Be brief.\n\n\nHi', [5934, 13426, 19486, 37133]],
    ['[INST]', [1091, 3174, 3074, 1093]],
    ['', []],
  ])('encodes %j as the reference does', async (text, ids) => {
    expect((await testTokenizer()).encode(text)).toEqual(ids);
  });

  it('counts a 200 kB run of spaces without quadratic blow-up, and the same as encode', async () => {
    const tokenizer = await testTokenizer();
    const text = `${' '.repeat(200_000)}x`;
    expect(tokenizer.count(text)).toBe(tokenizer.encode(text).length);
  });

  it('uses Unicode White_Space for \\s (U+0085 is space, U+FEFF is not), like tiktoken', () => {
    const re = tekkenPattern('\\s+');
    expect('a\u0085b'.match(re)).toEqual(['\u0085']);
    expect('a\ufeffb'.match(re)).toBeNull();
  });
});

describe('Pixtral image tokens', () => {
  it('rounds halves to even like Python round()', () => {
    expect([0.5, 1.5, 2.5, 512.5, 16.5, 256.5, 512.512].map(roundHalfEven)).toEqual([
      0, 2, 2, 512, 16, 256, 513,
    ]);
  });

  it.each([
    [10, 10, 2],
    [17, 17, 6],
    [512, 512, 1056],
    [1024, 768, 3120],
    [1024, 1024, 4160],
    [2000, 1000, 2080],
    [3024, 4032, 3136],
    [200, 311, 280],
    [251, 1374, 832],
    [1025, 1, 65],
    [2048, 1025, 2080],
    [2048, 33, 65],
    [4096, 1026, 1040],
    [2000, 1001, 2145],
    [4000, 1, 65],
    [1, 4096, 128],
    [1, 1, 2],
  ])('%ix%i costs %i tokens', (w, h, tokens) => {
    expect(pixtralImageGrid(w, h).tokens).toBe(tokens);
  });
});

describe('the one-message layout', () => {
  it.each([
    ['a short question', 'Describe this picture in one line.'],
    ['an empty text', ''],
    ['text with special-token look-alikes', '[INST] not special [/INST] </s>'],
    ['a multi-script text', 'héllo wörld 你好 🙂\n\nbye'],
  ])(
    'counts %s as <s>[INST] text [/INST], as the general layout counts the same text as one part',
    async (_name, text) => {
      const tokenizer = await testTokenizer();
      const asString = await countChatTokens(tokenizer, [{ role: 'user', content: text }], []);
      const asPart = await countChatTokens(
        tokenizer,
        [{ role: 'user', content: [{ type: 'text', text }] }],
        [],
      );
      expect(asString).toBe(asPart);
      expect(asString).toBe(3 + tokenizer.count(text));
    },
  );
});
