/**
 * Long texts are counted on a worker thread with the same result as on the event loop; short
 * ones stay in place; a text too long to fit is refused without being copied; a thread that dies
 * mid-count costs nothing but the detour through the event loop; an idle thread stops.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CountWorker } from '../../runtime-image/src/sidecar/tokens/count-worker.ts';
import type { Pacer } from '../../runtime-image/src/sidecar/tokens/tekken.ts';
import { testTokenizer } from './oracle.ts';

const NEVER: Pacer = { due: () => false, pause: () => Promise.resolve() };

/** Words of random letters, so the text splits into many distinct pieces. */
const words = (chars: number): string => {
  const random = randomBytes(chars);
  let text = '';
  for (const b of random) text += b % 6 === 0 ? ' ' : String.fromCharCode(97 + (b % 26));
  return text;
};

const workers: CountWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});
const countWorker = async (options?: { minChars?: number; idleMs?: number }): Promise<CountWorker> => {
  const worker = new CountWorker(await testTokenizer(), options);
  workers.push(worker);
  return worker;
};

describe('CountWorker', () => {
  it('counts a long text on its thread exactly as the tokenizer does in place', async () => {
    const tokenizer = await testTokenizer();
    const worker = await countWorker({ minChars: 1_000 });
    const text = words(50_000);
    const counted = worker.countUpTo(text, 1_000_000, NEVER);
    expect(counted).toBeInstanceOf(Promise);
    expect(worker.running).toBe(true);
    expect(await counted).toBe(tokenizer.count(text));
  });

  it('stops at the limit on its thread as in place', async () => {
    const tokenizer = await testTokenizer();
    const worker = await countWorker({ minChars: 1_000 });
    const text = words(200_000);
    const onThread = await worker.countUpTo(text, 5_000, NEVER);
    expect(onThread).toBeGreaterThan(5_000);
    expect(onThread).toBe(await tokenizer.countUpTo(text, 5_000, NEVER));
  });

  it('counts short texts in place, without starting a thread', async () => {
    const tokenizer = await testTokenizer();
    const worker = await countWorker({ minChars: 1_000 });
    expect(worker.countUpTo('Describe this picture.', 100, NEVER)).toBe(
      tokenizer.count('Describe this picture.'),
    );
    expect(worker.running).toBe(false);
  });

  it('answers a text too long to fit at once, without a thread', async () => {
    const tokenizer = await testTokenizer();
    const worker = await countWorker({ minChars: 1_000 });
    const limit = 1_000;
    const text = 'q'.repeat(limit * tokenizer.longestToken + 1);
    const counted = worker.countUpTo(text, limit, NEVER);
    expect(typeof counted).toBe('number');
    expect(counted).toBeGreaterThan(limit);
    expect(worker.running).toBe(false);
  });

  it('counts on the event loop when its thread goes away mid-count', async () => {
    const tokenizer = await testTokenizer();
    const worker = await countWorker({ minChars: 1_000 });
    const text = words(400_000);
    const counted = worker.countUpTo(text, 10_000_000, NEVER);
    await worker.close();
    expect(await counted).toBe(tokenizer.count(text));
    // The next long text starts a new thread.
    const again = worker.countUpTo(words(5_000), 10_000_000, NEVER);
    expect(worker.running).toBe(true);
    await again;
  });

  it('stops its thread once idle, and starts a new one for the next long text', async () => {
    const worker = await countWorker({ minChars: 1_000, idleMs: 50 });
    await worker.countUpTo(words(5_000), 1_000_000, NEVER);
    expect(worker.running).toBe(true);
    await expect.poll(() => worker.running, { timeout: 5_000 }).toBe(false);
    await worker.countUpTo(words(5_000), 1_000_000, NEVER);
    expect(worker.running).toBe(true);
  });
});
