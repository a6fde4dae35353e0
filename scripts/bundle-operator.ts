/**
 * Bundles the operator into one ES module file, as its image runs it:
 *
 *   node scripts/bundle-operator.ts <out file>
 *
 * Why a bundle: run from its sources, the operator loads every module of its dependencies whole,
 * and V8 keeps each module's source text for the life of the process. `@kubernetes/client-node`
 * alone imports its generated client for every API group (about 15 MB of sources) although the
 * operator uses only its kubeconfig loader; its sources, compiled code and module records were
 * about 75 MB of the operator's RSS before it cached a single object. Tree-shaken into one file,
 * only the code the operator reaches stays (bench/scale.ts measures both, docs/scale.md).
 *
 * Local mode (`npm start` without a cluster) stays out: it loads the test harness and the
 * sidecar's sources from the repository, which an image does not carry.
 */
import { build } from 'rolldown';

const LOCAL_ONLY = [/[/\\]local-mode\.ts$/, /[/\\]test[/\\]/];

export async function bundleOperator(outFile: string): Promise<void> {
  await build({
    input: new URL('../operator/src/main.ts', import.meta.url).pathname,
    platform: 'node',
    external: (id) => LOCAL_ONLY.some((pattern) => pattern.test(id)),
    logLevel: 'warn',
    output: { file: outFile, format: 'esm', codeSplitting: false },
  });
}

if (import.meta.main) {
  const outFile = process.argv[2];
  if (!outFile) {
    process.stderr.write('usage: node scripts/bundle-operator.ts <out file>\n');
    process.exit(2);
  }
  await bundleOperator(outFile);
}
