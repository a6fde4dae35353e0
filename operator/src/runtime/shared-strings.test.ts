import { describe, expect, it } from 'vitest';
import { SharedStrings } from './shared-strings.ts';

const pod = () => ({
  metadata: { name: 'web-1', uid: '6c1f0d8e', resourceVersion: '41', labels: { app: 'web' } },
  spec: { containers: [{ name: 'main', image: 'ghcr.io/x/y:1' }], replicas: 2, paused: false },
  status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-07T15:00:00Z' }] },
});

describe('SharedStrings', () => {
  it('copies JSON data as it is, and leaves the input unchanged', () => {
    const table = new SharedStrings();
    const input = pod();
    expect(table.copy(input)).toEqual(pod());
    expect(table.copy(input)).not.toBe(input);
    expect(input).toEqual(pod());
  });

  it('keeps the strings that repeat, not the values unique to each object or write', () => {
    const table = new SharedStrings();
    table.copy(pod());
    table.copy(pod());
    // name, app/web, main, the image, Ready and True: uid, resourceVersion and times are not kept.
    expect(table.size).toBe(6);
  });

  it('keeps no long string', () => {
    const table = new SharedStrings();
    table.copy({ message: 'x'.repeat(300) });
    expect(table.size).toBe(0);
  });

  it('never holds more than its limit: it starts over', () => {
    const table = new SharedStrings(100);
    for (let i = 0; i < 1_000; i++) expect(table.share(`name-${i}`)).toBe(`name-${i}`);
    expect(table.size).toBeLessThanOrEqual(100);
  });
});
