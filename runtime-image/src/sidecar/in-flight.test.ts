import { describe, expect, it } from 'vitest';
import { InFlight } from './in-flight.ts';

describe('InFlight', () => {
  it('lists what was added and not deleted, oldest first', () => {
    const list = new InFlight<string>();
    const a = list.add('a');
    list.add('b');
    const c = list.add('c');
    list.add('d');
    list.delete(c);
    list.delete(a);
    expect(list.values()).toEqual(['b', 'd']);
    expect(list.size).toBe(2);
  });

  it('ignores a second delete of the same entry', () => {
    const list = new InFlight<number>();
    const one = list.add(1);
    list.add(2);
    list.delete(one);
    list.delete(one);
    expect(list.values()).toEqual([2]);
    expect(list.size).toBe(1);
  });

  it('is empty again once everything is deleted, and can be refilled', () => {
    const list = new InFlight<number>();
    const entries = [1, 2, 3].map((n) => list.add(n));
    for (const entry of entries.reverse()) list.delete(entry);
    expect(list.values()).toEqual([]);
    expect(list.size).toBe(0);
    list.add(4);
    expect(list.values()).toEqual([4]);
  });

  it('leaves a deleted entry holding nothing, so it keeps no request alive', () => {
    const list = new InFlight<{ id: number }>();
    list.add({ id: 1 });
    const middle = list.add({ id: 2 });
    list.add({ id: 3 });
    list.delete(middle);
    expect(middle).toEqual({ value: undefined, prev: undefined, next: undefined });
  });

  it('keeps its values while they are deleted during a walk over them', () => {
    const list = new InFlight<number>();
    const entries = [1, 2, 3].map((n) => list.add(n));
    const seen: number[] = [];
    for (const value of list.values()) {
      seen.push(value);
      list.delete(entries[value - 1] as (typeof entries)[number]);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(list.size).toBe(0);
  });
});
