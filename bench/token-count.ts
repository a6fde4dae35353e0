/**
 * Benchmark: time to count and validate one request with 12 images and long text, the sidecar's
 * preparer against mistral-common (the reference) doing the same count, measured in one run.
 * Run: npm run bench:tokens (needs test/oracle/setup.sh). Bounded: fixed iterations.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPreparer, type Preparer } from '../runtime-image/src/sidecar/preparer.ts';
import { Tekkenizer } from '../runtime-image/src/sidecar/tokens/tekken.ts';
import { ORACLE_PYTHON, ROOT, TEKKEN_PATH, testTokenizer } from '../test/sidecar-limits/oracle.ts';
import { dataUrl } from '../test/sidecar-limits/rig.ts';

const TS_ITERATIONS = 30;
const PY_ITERATIONS = 10;

const sentences = [
  'The quick brown fox jumps over the lazy dog. ',
  'Съешь же ещё этих мягких французских булок, да выпей чаю. ',
  '我们今天去公园散步，然后回家吃晚饭。 ',
  'こんにちは世界、今日はいい天気ですね。 ',
  'مرحبا بالعالم، كيف حالك اليوم؟ ',
  'Emoji 😀👍🏽👨‍👩‍👧 and numbers 1234567890. ',
];
let seed = 42;
const rand = (n: number): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
};
const letters = 'abcdefghijklmnopqrstuvwxyzéüßжщяあいう中文字';
const randomWord = (): string =>
  Array.from({ length: 3 + rand(8) }, () => letters[rand(letters.length)]).join('');
const longText = Array.from({ length: 1200 }, (_, i) =>
  i % 2 === 0 ? sentences[i % sentences.length] : `${randomWord()} ${randomWord()} ${randomWord()}. `,
).join('');
const images = [
  'photo.png',
  'baseline.jpg',
  'progressive.jpg',
  'lossy.webp',
  'lossless.webp',
  'extended.webp',
  'still.gif',
  'wide-2048x1025.jpg',
  'tall-1x4096.png',
  'one-pixel.png',
  'photo.png',
  'baseline.jpg',
];
const request = {
  model: 'mistral/pixtral-12b-2409:bf16',
  max_tokens: 1024,
  messages: [
    { role: 'system' as const, content: 'You are a careful visual assistant. Answer in detail.' },
    { role: 'user' as const, content: 'Hello!' },
    { role: 'assistant' as const, content: 'Hello! Send me your images.' },
    {
      role: 'user' as const,
      content: [
        { type: 'text' as const, text: longText },
        ...images.map((name) => ({ type: 'image_url' as const, image_url: { url: dataUrl(name) } })),
      ],
    },
  ],
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

const signal = new AbortController().signal;
async function timeIt(preparer: Preparer): Promise<{ ms: number; tokens: number | undefined }> {
  const first = await preparer(request, signal); // warm-up
  const times: number[] = [];
  for (let i = 0; i < TS_ITERATIONS; i++) {
    const start = performance.now();
    await preparer(request, signal);
    times.push(performance.now() - start);
  }
  await preparer.close();
  return { ms: median(times), tokens: first.promptTokens };
}
const options = { maxImagesPerRequest: 12, maxContextLength: 131_072 };
// Warm: the per-piece cache as a running sidecar has it. Cold: no cache, every piece merged anew.
const warm = await timeIt(createPreparer({ tokenizer: await testTokenizer(), ...options }));
const coldTokenizer = new Tekkenizer(readFileSync(TEKKEN_PATH), { maxCacheBytes: 0 });
const cold = await timeIt(createPreparer({ tokenizer: coldTokenizer, ...options }));

const file = join(mkdtempSync(join(tmpdir(), 'bench-tokens-')), 'request.json');
writeFileSync(file, JSON.stringify(request));
const py = JSON.parse(
  execFileSync(
    ORACLE_PYTHON,
    [join(ROOT, 'bench/token-count.py'), file, TEKKEN_PATH, String(PY_ITERATIONS)],
    { encoding: 'utf8' },
  ),
) as Record<'full' | 'count', { median_ms: number; tokens: number }>;

const ts = cold.ms;
const rows = [
  ['sidecar preparer, no piece cache (baseline of the ratios)', cold.ms, cold.tokens],
  ['sidecar preparer, warm piece cache', warm.ms, warm.tokens],
  ['mistral-common encode_chat_completion (what vLLM runs)', py.full.median_ms, py.full.tokens],
  ['mistral-common cheapest count (header reads + Tekken)', py.count.median_ms, py.count.tokens],
] as const;
console.log(
  `request: 12 images, ${longText.length} chars of text; medians of ${TS_ITERATIONS} (TS) / ${PY_ITERATIONS} (Python) runs`,
);
console.log('| implementation | median ms | prompt tokens | time / cold TS time |');
console.log('| --- | ---: | ---: | ---: |');
for (const [name, ms, tokens] of rows)
  console.log(`| ${name} | ${ms.toFixed(2)} | ${tokens} | ${(ms / ts).toFixed(1)}x |`);
if (py.full.tokens !== cold.tokens || warm.tokens !== cold.tokens) {
  console.error(`Token counts differ: TS ${cold.tokens}/${warm.tokens}, mistral-common ${py.full.tokens}`);
  process.exitCode = 1;
}
