import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay } from './backoff.ts';

describe('Backoff', () => {
  it('multiplies by the factor each step and holds at the cap', () => {
    const b = new Backoff({ durationMs: 100, factor: 2, capMs: 500 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 500, 500]);
  });

  it('lengthens each delay by up to jitter × itself', () => {
    expect(new Backoff({ durationMs: 100, jitter: 1, random: () => 0.5 }).next()).toBe(150);
    expect(new Backoff({ durationMs: 100, jitter: 0.1, random: () => 0.999 }).next()).toBeCloseTo(109.99);
  });

  it('says stop after its steps, and a reset gives them back', () => {
    const b = new Backoff({ durationMs: 10, steps: 2 });
    expect([b.next(), b.next(), b.next()]).toEqual([10, 20, undefined]);
    expect(b.taken).toBe(2);
    b.reset();
    expect(b.next()).toBe(10);
  });

  it('computes step n directly, without overflowing on a huge n', () => {
    expect(backoffDelay({ durationMs: 30_000, capMs: 600_000 }, 1)).toBe(30_000);
    expect(backoffDelay({ durationMs: 30_000, capMs: 600_000 }, 3)).toBe(120_000);
    expect(backoffDelay({ durationMs: 50, capMs: 300_000 }, 10_000)).toBe(300_000);
    expect(backoffDelay({ durationMs: 5, factor: 1 }, 7)).toBe(5);
  });
});
