/**
 * scripts/bundle-operator.ts, which makes the one module the operator's image runs: the bundle
 * runs with the Node flags of the image's entry point, is ASCII (so V8 keeps its source as
 * one-byte text), leaves local mode out, and ships with the licence of every package inside it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageEntryNodeFlags } from '../../bench/image-entry.ts';
import { bundleOperator } from '../../scripts/bundle-operator.ts';

const work = mkdtempSync(join(tmpdir(), 'bundle-operator-'));
const bundle = join(work, 'operator.mjs');
let packages: string[] = [];

beforeAll(async () => {
  packages = await bundleOperator(bundle);
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the operator bundle', () => {
  it('is ASCII only and keeps local mode out (it needs the repository)', () => {
    const bytes = readFileSync(bundle);
    expect(bytes.findIndex((byte) => byte > 0x7f)).toBe(-1);
    const text = bytes.toString('ascii');
    expect(text).toContain('import("./local-mode.ts")');
    expect(text).not.toContain('function locateBinaries(');
  });

  it('names every package inside it, with its licence text, in THIRD-PARTY-NOTICES', () => {
    const notices = readFileSync(join(work, 'THIRD-PARTY-NOTICES'), 'utf8');
    expect(packages.length).toBeGreaterThan(10);
    for (const folder of packages) {
      const { name, version } = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
      expect(notices).toContain(`${name} ${version} (`);
    }
    expect(notices).toMatch(/@kubernetes\/client-node \S+ \(Apache-2\.0\)\n\n\s*Apache License/);
  });

  it("runs under the image entry point's Node flags: a kubeconfig that does not exist is reported by its path", async () => {
    const run = promisify(execFile);
    const flags = imageEntryNodeFlags('operator/Dockerfile', 'pixtral-operator');
    const failed = await run(process.execPath, [...flags, bundle, '--kubeconfig', join(work, 'missing')], {
      cwd: work,
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect((failed as { stderr: string }).stderr).not.toContain('bad option');
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stdout: string }).stdout).toContain(join(work, 'missing'));
  });
});
