/**
 * `npm run lint`'s reference check: every document a comment, README or test cites must be a file
 * of this repository, so a newcomer with only the repository can follow every pointer.
 *
 * Two rules, over every tracked text file:
 * - no label of a document that lives elsewhere (a section sign, a numbered style rule, a path
 *   into a sibling folder of the checkout);
 * - every relative `*.md` path (optionally with `#anchor`) names a tracked file, and the anchor one
 *   of its headings.
 * Hand-written: link checkers on npm check URLs or rendered Markdown, not paths inside code comments.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

/** One reference that a newcomer cannot follow. */
export interface BadReference {
  file: string;
  line: number;
  text: string;
  why: string;
}

const OUTSIDE_LABELS: { pattern: RegExp; why: string }[] = [
  { pattern: /\.\.\/shared\//, why: 'points outside the repository' },
  { pattern: /\bstyle (?:rule )?S\d+\b/, why: 'names a style rule kept outside the repository' },
  { pattern: /§\s?\d/, why: 'cites a section of a document outside the repository' },
  { pattern: /\bDESIGN\.md\b/, why: 'cites a design document outside the repository' },
];

// A relative Markdown path in backticks, a link target or plain text: `docs/x.md#y`, (../README.md).
const MD_PATH = /(?<![\w/.:-])((?:\.{1,2}\/)*[\w.-]+(?:\/[\w.-]+)*\.md)(#[\w-]+)?/g;

/** GitHub's anchor for a Markdown heading. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) anchors.add(headingAnchor(m[1] as string));
  }
  return anchors;
}

/** The bad references in `files` (repository-relative paths), reading them from `root`. */
export function findBadReferences(root: string, files: readonly string[]): BadReference[] {
  const tracked = new Set(files);
  const bad: BadReference[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(join(root, file), 'utf8');
    } catch {
      continue; // listed by git but deleted in the work tree
    }
    if (text.includes('\0')) continue;
    text.split('\n').forEach((lineText, i) => {
      const at = { file, line: i + 1, text: lineText.trim() };
      for (const { pattern, why } of OUTSIDE_LABELS) if (pattern.test(lineText)) bad.push({ ...at, why });
      for (const m of lineText.matchAll(MD_PATH)) {
        const [, path, anchor] = m as unknown as [string, string, string | undefined];
        if (path.includes('node_modules')) continue;
        const candidates = [normalize(join(dirname(file), path)), normalize(path)];
        const target = candidates.find((c) => tracked.has(c));
        if (!target) {
          // A bare file name (`README.md`) is a name, not a path, unless it sits beside the file.
          if (!path.includes('/')) continue;
          bad.push({ ...at, why: `cites ${path}, which is not a file of the repository` });
        } else if (anchor && !anchorsOf(readFileSync(join(root, target), 'utf8')).has(anchor.slice(1))) {
          bad.push({ ...at, why: `cites ${target}${anchor}, which has no such heading` });
        }
      }
    });
  }
  return bad;
}

function trackedTextFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((f) => f && !/(^|\/)package-lock\.json$|\.(png|jpe?g|gif|webp|bin|tgz|gz|safetensors)$/.test(f))
    .filter((f) => f !== 'scripts/check-references.ts' && f !== 'scripts/check-references.test.ts');
}

if (import.meta.main) {
  const root = join(import.meta.dirname, '..');
  const bad = findBadReferences(root, trackedTextFiles(root));
  for (const b of bad) process.stderr.write(`${b.file}:${b.line}: ${b.why}\n    ${b.text}\n`);
  if (bad.length > 0) {
    process.stderr.write(`check-references: ${bad.length} reference(s) a newcomer cannot follow\n`);
    process.exitCode = 1;
  }
}
