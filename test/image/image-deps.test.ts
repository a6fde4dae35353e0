/**
 * scripts/image-deps.ts, which decides which npm packages enter an image: on the project's real
 * package-lock.json and node_modules, and on a small project that imports a dev-only package.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closure, importedPackages, packageOf, shippedFile } from '../../scripts/image-deps.ts';
import { ROOT } from './docker.ts';

const SCRIPT = join(ROOT, 'scripts', 'image-deps.ts');
const lock = (await import(join(ROOT, 'package-lock.json'), { with: { type: 'json' } })).default.packages;
const work = mkdtempSync(join(tmpdir(), 'image-deps-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('image-deps', () => {
  it('names the package of a bare specifier and ignores relative paths and builtins', () => {
    expect(packageOf('@kubernetes/client-node/dist/util.js')).toBe('@kubernetes/client-node');
    expect(packageOf('pino')).toBe('pino');
    expect(packageOf('zod/v4')).toBe('zod');
    expect(packageOf('./server.ts')).toBeNull();
    expect(packageOf('node:fs')).toBeNull();
    expect(packageOf('fs')).toBeNull();
  });

  it("finds the runtime image's imports without type-only ones or tests", () => {
    const found = [...importedPackages(join(ROOT, 'runtime-image', 'src')).keys()].sort();
    expect(found).toContain('pino');
    expect(found).toContain('undici');
    expect(found).not.toContain('vitest');
    expect(found).not.toContain('@kubernetes/client-node');
  });

  it('ships code, JSON and licences, not declarations, sources, maps or read-mes', () => {
    for (const kept of ['index.js', 'index.cjs', 'package.json', 'LICENSE', 'LICENSE.md', 'addon.node'])
      expect(shippedFile(kept), kept).toBe(true);
    for (const dropped of [
      'index.d.ts',
      'index.d.mts',
      'schemas.ts',
      'index.js.map',
      'README.md',
      'CHANGELOG.md',
    ])
      expect(shippedFile(dropped), dropped).toBe(false);
  });

  it('follows dependencies through the lockfile, leaving dev tooling out', () => {
    const keys = closure(lock, ['pino']);
    expect(keys).toContain('node_modules/pino');
    expect(keys).toContain('node_modules/sonic-boom');
    expect(keys).not.toContain('node_modules/vitest');
    expect(() => closure(lock, ['no-such-package'])).toThrow('no-such-package (needed by package.json)');
  });

  it('copies only the closure, and refuses a source that imports a dev-only package', () => {
    const project = join(work, 'project');
    mkdirSync(join(project, 'src'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(project, 'package.json'));
    cpSync(join(ROOT, 'package-lock.json'), join(project, 'package-lock.json'));
    for (const key of closure(lock, ['zod']))
      cpSync(join(ROOT, key), join(project, key), { recursive: true });
    writeFileSync(join(project, 'src', 'a.ts'), "import { z } from 'zod';\nexport const s = z.string();\n");
    writeFileSync(join(project, 'src', 'a.test.ts'), "import { it } from 'vitest';\n");
    const out = join(work, 'out');
    execFileSync(process.execPath, [SCRIPT, '--from', project, '--to', out, 'src']);
    expect(readdirSync(join(out, 'node_modules'))).toEqual(['zod']);
    // What Node loads stays; declarations, TypeScript sources, maps and read-mes do not.
    const shipped = readdirSync(join(out, 'node_modules', 'zod'), { recursive: true }).map(String);
    expect(shipped).toContain('package.json');
    expect(shipped).toContain('LICENSE');
    expect(shipped.some((f) => f.endsWith('.js'))).toBe(true);
    expect(shipped.filter((f) => /\.(?:[cm]?ts|map|md)$/.test(f))).toEqual([]);

    writeFileSync(join(project, 'src', 'b.ts'), "import { describe } from 'vitest';\nvoid describe;\n");
    const refused = spawnSync(
      process.execPath,
      [SCRIPT, '--from', project, '--to', join(work, 'out2'), 'src'],
      {
        encoding: 'utf8',
      },
    );
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('vitest (imported by');
    expect(existsSync(join(work, 'out2'))).toBe(false);
  });
});
