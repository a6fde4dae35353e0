/**
 * Writes the `config` part of the chart's values.schema.json from the operator's own zod schema
 * (operator/src/config.ts), so `helm install` refuses a bad operator configuration with the same
 * rules the operator applies at start. The rest of values.schema.json is hand-written.
 *
 *   node scripts/gen-chart-schema.ts           rewrite charts/pixtral-operator/values.schema.json
 *   node scripts/gen-chart-schema.ts --check   exit 1 when the checked-in file is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { OperatorConfigSchema } from '../operator/src/config.ts';

/** The chart's values schema file. */
export const VALUES_SCHEMA = join(
  import.meta.dirname,
  '..',
  'charts',
  'pixtral-operator',
  'values.schema.json',
);

/** `current` (the file's text) with `properties.config` regenerated; formatted as the file is. */
export function renderValuesSchema(current: string): string {
  const schema = JSON.parse(current) as { properties: Record<string, unknown> };
  // Helm validates values before defaults apply, so the file's (input) shape is what to check.
  const { $schema: _, ...config } = z.toJSONSchema(OperatorConfigSchema, { target: 'draft-7', io: 'input' });
  schema.properties.config = {
    description:
      'The operator configuration (generated from operator/src/config.ts by scripts/gen-chart-schema.ts), rendered into a ConfigMap read through OPERATOR_CONFIG_FILE.',
    ...config,
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const current = readFileSync(VALUES_SCHEMA, 'utf8');
  const next = renderValuesSchema(current);
  if (values.check) {
    if (next !== current) {
      process.stderr.write(`${VALUES_SCHEMA} is stale: run node scripts/gen-chart-schema.ts\n`);
      process.exit(1);
    }
    process.stdout.write('values.schema.json is up to date\n');
  } else if (next !== current) {
    writeFileSync(VALUES_SCHEMA, next);
    process.stdout.write(`wrote ${VALUES_SCHEMA}\n`);
  } else {
    process.stdout.write('values.schema.json already up to date\n');
  }
}
