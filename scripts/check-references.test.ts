import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findBadReferences, headingAnchor } from './check-references.ts';

/** The repositories the tests made, removed after them. */
const made: string[] = [];
afterAll(() => {
  for (const root of made) rmSync(root, { recursive: true, force: true });
});

function repo(files: Record<string, string>): { root: string; files: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'refs-'));
  made.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return { root, files: Object.keys(files) };
}

describe('the reference check', () => {
  it('accepts paths and anchors of files in the repository', () => {
    const r = repo({
      'docs/conventions.md': '# Conventions\n## Pure builders\n',
      'src/a.ts': '// emits values as stored (docs/conventions.md#pure-builders)\n',
      'docs/README.md': 'see [conventions](conventions.md) and `../src/a.ts`\n',
    });
    expect(findBadReferences(r.root, r.files)).toEqual([]);
  });

  it('refuses labels and paths of documents kept outside the repository', () => {
    // The bad references are assembled here, so this file does not itself cite them.
    const outside = ['..', 'elsewhere', ['DESIGN', 'md'].join('.')].join('/');
    const r = repo({
      'src/a.ts': [
        `// builders are pure (${['style', 'S3'].join(' ')})`,
        '// see research/tokens.md',
        `// read ${outside}`,
        `// the rule in ${'\u00a7'}4.1`,
        '// docs/conventions.md#no-such-heading',
      ].join('\n'),
      'docs/conventions.md': '# Conventions\n',
    });
    const why = findBadReferences(r.root, r.files).map((b) => `${b.line}: ${b.why}`);
    expect(why).toEqual([
      '1: names a style rule kept outside the repository',
      '2: cites research/tokens.md, which is not a file of the repository',
      '3: cites a design document outside the repository',
      `3: cites ${outside}, which is not a file of the repository`,
      '4: cites a section of a document outside the repository',
      '5: cites docs/conventions.md#no-such-heading, which has no such heading',
    ]);
  });

  it('makes anchors the way GitHub does', () => {
    expect(headingAnchor('Time and I/O as parameters')).toBe('time-and-io-as-parameters');
    expect(headingAnchor('Gather, compute, apply, report')).toBe('gather-compute-apply-report');
  });
});
