import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheFolder, locateBinaries } from './binaries.ts';

const saved = { assets: process.env.KUBEBUILDER_ASSETS, path: process.env.PATH };
const dirs: string[] = [];
afterEach(() => {
  process.env.KUBEBUILDER_ASSETS = saved.assets;
  process.env.PATH = saved.path;
  if (saved.assets === undefined) delete process.env.KUBEBUILDER_ASSETS;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function folderWith(file: string, versionLine: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bins-'));
  dirs.push(dir);
  writeFileSync(join(dir, file), `#!/bin/sh\necho '${versionLine}'\n`);
  chmodSync(join(dir, file), 0o755);
  return dir;
}

describe('finding the test binaries', () => {
  it('takes KUBEBUILDER_ASSETS first', () => {
    process.env.KUBEBUILDER_ASSETS = folderWith('kubectl', 'anything');
    expect(locateBinaries().found.kubectl).toBe(join(process.env.KUBEBUILDER_ASSETS, 'kubectl'));
  });

  it('takes a PATH binary only at the pinned version', () => {
    const pinned = folderWith('kubectl', 'Client Version: v1.36.3');
    const other = folderWith('kubectl', 'Client Version: v1.32.4-dispatcher');
    delete process.env.KUBEBUILDER_ASSETS;
    process.env.PATH = `${other}:${pinned}:${saved.path}`;
    expect(locateBinaries().found.kubectl).toBe(join(pinned, 'kubectl'));
  });

  it('falls back to the per-user cache outside the clone', () => {
    delete process.env.KUBEBUILDER_ASSETS;
    process.env.PATH = '/nonexistent';
    const { found } = locateBinaries();
    expect(found.kubeApiserver?.startsWith(cacheFolder())).toBe(true);
    // With a separator: a clone at /tmp/x and a HOME at /tmp/xhome share a string prefix, not a folder.
    expect(cacheFolder().startsWith(join(import.meta.dirname, '..', '..') + sep)).toBe(false);
  });
});
