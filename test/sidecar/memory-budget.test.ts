import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cgroupMemoryLimit,
  defaultRequestBudget,
  MemoryBudget,
} from '../../runtime-image/src/sidecar/memory-budget.ts';

const MiB = 1024 * 1024;
const roots: string[] = [];

/** A fake filesystem root holding `files` (path → content). */
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('the container memory limit', () => {
  it('reads cgroup v2 memory.max inside a container (cgroup namespace: path /)', () => {
    const root = fakeRoot({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/memory.max': '1073741824\n' });
    expect(cgroupMemoryLimit(root)).toBe(1024 * MiB);
  });

  it("reads cgroup v2 at the process's own path, and 'max' as no limit", () => {
    const root = fakeRoot({
      'proc/self/cgroup': '0::/kubepods/pod1/c1\n',
      'sys/fs/cgroup/kubepods/pod1/c1/memory.max': '536870912\n',
      'sys/fs/cgroup/memory.max': 'max\n',
    });
    expect(cgroupMemoryLimit(root)).toBe(512 * MiB);
    const unlimited = fakeRoot({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/memory.max': 'max\n' });
    expect(cgroupMemoryLimit(unlimited)).toBeUndefined();
  });

  it('reads cgroup v1 memory.limit_in_bytes, where an unset limit is about 2^63', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '4:memory:/docker/abc\n0::/\n',
      'sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes': '805306368\n',
    });
    expect(cgroupMemoryLimit(root)).toBe(768 * MiB);
    const unset = fakeRoot({
      'proc/self/cgroup': '4:memory:/\n',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    });
    expect(cgroupMemoryLimit(unset)).toBeUndefined();
  });

  it('finds no limit where there is no cgroup file', () => {
    expect(cgroupMemoryLimit(fakeRoot({}))).toBeUndefined();
  });
});

describe('the request budget', () => {
  it('takes the tighter of the memory limit and the heap limit', () => {
    expect(defaultRequestBudget(1024 * MiB, 4096 * MiB)).toBeLessThan(1024 * MiB * 0.6);
    expect(defaultRequestBudget(undefined, 512 * MiB)).toBeLessThan(512 * MiB * 0.6);
    expect(defaultRequestBudget(1024 * MiB, 512 * MiB)).toBe(defaultRequestBudget(undefined, 512 * MiB));
  });

  it('admits up to its capacity, refuses past it, and takes released bytes back', () => {
    const budget = new MemoryBudget(100, 2);
    const a = budget.open();
    a.add(60);
    const b = budget.open();
    expect(() => b.add(50)).toThrow(
      expect.objectContaining({ status: 503, headers: { 'retry-after': '2' } }),
    );
    expect(() => b.add(101)).toThrow(expect.objectContaining({ status: 413 }));
    a.release();
    a.release();
    expect(budget.used).toBe(0);
    b.add(50);
    expect(budget.used).toBe(50);
  });
});
