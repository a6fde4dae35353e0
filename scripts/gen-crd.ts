/**
 * Writes the PixtralDeployment CRD from the zod schema and the model catalog:
 *   npm run gen:crd
 * test/api/crd-fresh.test.ts fails when the checked-in file differs from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, pixtralDeploymentCrdYaml } from '../operator/src/api/crd.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(root, CRD_FILE), pixtralDeploymentCrdYaml());
process.stdout.write(`Wrote ${CRD_FILE}\n`);
