/**
 * Copies into an image only the npm packages its sources need, run inside a Dockerfile stage:
 *
 *   node scripts/image-deps.ts --from /src --to /app runtime-image/src [more source dirs]
 *
 * It scans the sources (tests excluded) for bare import specifiers, requires each to be a
 * production dependency in package.json (a dev-only import would crash the image at start, so
 * it fails the build instead), then copies the dependency closure of those packages, resolved
 * through package-lock.json exactly as Node resolves nested node_modules folders.
 * Written by hand because `npm prune --omit=dev` needs npm, which the image does not carry,
 * and keeps every production dependency even when the image's sources import only a few.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, join, sep } from 'node:path';
import { parseArgs } from 'node:util';

interface LockEntry {
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const IMPORT = /(?:^|[;\s])(import|export)\s+(type\s+)?(?:[^;'"]*?\sfrom\s*)?['"]([^'"]+)['"]/g;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`; null for relative and builtins. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  return builtinModules.includes(name) ? null : name;
}

/** Bare packages imported by the `.ts` files under `dir` (tests excluded), with one importing file each. */
export function importedPackages(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = readFileSync(file, 'utf8');
    const specifiers: string[] = [];
    // Type-only imports are erased by type stripping and need nothing at run time.
    for (const m of text.matchAll(IMPORT)) if (!m[2]) specifiers.push(m[3] as string);
    for (const m of text.matchAll(DYNAMIC_IMPORT)) specifiers.push(m[1] as string);
    for (const spec of specifiers) {
      const name = packageOf(spec);
      if (name && !found.has(name)) found.set(name, file);
    }
  }
  return found;
}

// Files an image never runs: TypeScript (Node does not strip types under node_modules, so these
// are declarations and sources for editors), source maps and read-me/change logs. Licences stay.
const NOT_RUN = /\.(?:[cm]?ts|map)$/;
const PROSE = /\.(?:md|markdown)$/i;
const LICENCE = /^(?:licen[cs]e|notice|copying|authors)/i;

/** Whether a file under node_modules is needed in an image: code, JSON, native addons and licences. */
export function shippedFile(name: string): boolean {
  if (NOT_RUN.test(name)) return false;
  return !PROSE.test(name) || LICENCE.test(name);
}

/** Where Node finds `dep` when required from the package at lockfile key `from` ('' = the root). */
function resolve(lock: Record<string, LockEntry>, from: string, dep: string): string | undefined {
  let base = from;
  for (;;) {
    const key = base ? `${base}/node_modules/${dep}` : `node_modules/${dep}`;
    if (lock[key]) return key;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** Lockfile keys of `roots` and everything they depend on; throws on a missing required package. */
export function closure(lock: Record<string, LockEntry>, roots: string[]): Set<string> {
  const seen = new Set<string>();
  const stack: Array<[string, string, boolean]> = roots.map((r) => ['', r, false]);
  while (stack.length) {
    const [from, dep, optional] = stack.pop() as [string, string, boolean];
    const key = resolve(lock, from, dep);
    if (!key) {
      if (optional) continue;
      throw new Error(`${dep} (needed by ${from || 'package.json'}) is not in package-lock.json`);
    }
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = lock[key] as LockEntry;
    for (const d of Object.keys(entry.dependencies ?? {})) stack.push([key, d, false]);
    for (const d of Object.keys(entry.optionalDependencies ?? {})) stack.push([key, d, true]);
    // npm 7+ installs peers; one that is absent from the lockfile was optional.
    for (const d of Object.keys(entry.peerDependencies ?? {})) stack.push([key, d, true]);
  }
  return seen;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { from: { type: 'string' }, to: { type: 'string' } },
    allowPositionals: true,
  });
  if (!values.from || !values.to || positionals.length === 0) {
    throw new Error('usage: node scripts/image-deps.ts --from <project dir> --to <app dir> <source dir>...');
  }
  const from = values.from;
  const pkg = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const lock = (
    JSON.parse(readFileSync(join(from, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockEntry>;
    }
  ).packages;
  const roots = new Map<string, string>();
  for (const dir of positionals)
    for (const [name, file] of importedPackages(join(from, dir))) roots.set(name, file);
  const notProduction = [...roots].filter(([name]) => !pkg.dependencies?.[name]);
  if (notProduction.length) {
    throw new Error(
      `Not production dependencies (npm install --save-exact them, or stop importing them):\n${notProduction
        .map(([name, file]) => `  ${name} (imported by ${file})`)
        .join('\n')}`,
    );
  }
  const keys = closure(lock, [...roots.keys()]);
  let bytes = 0;
  for (const key of [...keys].sort()) {
    const source = join(from, key);
    if (!existsSync(source)) {
      if (lock[key]?.optional) continue; // an optional package for another platform
      throw new Error(`${source} is missing: run npm ci first`);
    }
    // Nested node_modules hold their own lockfile keys, copied (or not) on their own.
    const nested = join(source, 'node_modules');
    cpSync(source, join(values.to, key), {
      recursive: true,
      filter: (src) => {
        if (src === nested || src.startsWith(nested + sep)) return false;
        const st = statSync(src);
        if (!st.isFile()) return true;
        if (!shippedFile(basename(src))) return false;
        bytes += st.size;
        return true;
      },
    });
  }
  process.stdout.write(
    `image-deps: ${[...roots.keys()].sort().join(', ')} -> ${keys.size} packages, ${(bytes / 1e6).toFixed(1)} MB\n`,
  );
}

if (import.meta.main) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`image-deps: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
