/**
 * Bundles the operator into one ES module file, as its image runs it, with the licences of the
 * packages inside it in a notices file beside it:
 *
 *   node scripts/bundle-operator.ts <out file>      (writes <out file> and THIRD-PARTY-NOTICES)
 *
 * Why a bundle: run from its sources, the operator loads every module of its dependencies whole,
 * and V8 keeps each module's source text for the life of the process. `@kubernetes/client-node`
 * alone imports its generated client for every API group (about 15 MB of sources) although the
 * operator uses only its kubeconfig loader; its sources, compiled code and module records were
 * about 75 MB of the operator's RSS before it cached a single object. Tree-shaken into one file,
 * only the code the operator reaches stays (bench/scale.ts measures it, docs/scale.md).
 * The bundle is ASCII without comments: one non-ASCII character anywhere makes V8 keep the
 * whole source as a two-byte string (8 MB instead of 3). The licence notices that comments
 * would have carried are in the notices file.
 *
 * Local mode (`npm start` without a cluster) stays out: it loads the test harness and the
 * sidecar's sources from the repository, which an image does not carry.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'rolldown';

const LOCAL_ONLY = [/[/\\]local-mode\.ts$/, /[/\\]test[/\\]/];

/** Builds `outFile`; resolves the package folders whose code it contains. */
export async function bundleOperator(outFile: string): Promise<string[]> {
  const output = await build({
    input: new URL('../operator/src/main.ts', import.meta.url).pathname,
    platform: 'node',
    external: (id) => LOCAL_ONLY.some((pattern) => pattern.test(id)),
    logLevel: 'warn',
    output: { file: outFile, format: 'esm', codeSplitting: false, charset: 'ascii', comments: false },
  });
  const packages = new Set<string>();
  for (const chunk of output.output)
    if (chunk.type === 'chunk')
      for (const id of chunk.moduleIds) {
        const at = id.lastIndexOf('/node_modules/');
        if (at === -1) continue;
        const rest = id.slice(at + '/node_modules/'.length).split('/');
        const name = rest[0]?.startsWith('@') ? rest.slice(0, 2).join('/') : rest[0];
        packages.add(`${id.slice(0, at)}/node_modules/${name}`);
      }
  const folders = [...packages].sort();
  writeFileSync(join(dirname(outFile), 'THIRD-PARTY-NOTICES'), notices(folders));
  return folders;
}

/** Each package's name, version, licence and licence text, as its folder ships them. */
function notices(folders: string[]): string {
  return folders
    .map((folder) => {
      const pkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as {
        name: string;
        version: string;
        license?: string;
      };
      const file = readdirSync(folder).find((f) => /^(licen[cs]e|copying)/i.test(f));
      const text = file ? readFileSync(join(folder, file), 'utf8').trim() : '';
      return `${pkg.name} ${pkg.version} (${pkg.license ?? 'see its package'})\n\n${text}\n`;
    })
    .join(`\n${'-'.repeat(72)}\n\n`);
}

if (import.meta.main) {
  const outFile = process.argv[2];
  if (!outFile) {
    process.stderr.write('usage: node scripts/bundle-operator.ts <out file>\n');
    process.exit(2);
  }
  const folders = await bundleOperator(outFile);
  process.stdout.write(`bundled the operator and ${folders.length} packages into ${outFile}\n`);
}
