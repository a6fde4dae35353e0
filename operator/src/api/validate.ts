import type { z } from 'zod';
import { type PixtralDeployment, PixtralDeploymentSchema } from './pixtral-deployment.ts';

/** One problem with a resource: the dotted field path (e.g. `spec.maxSize`) and what to change. */
export interface FieldError {
  field: string;
  message: string;
}

/** The outcome of `validatePixtralDeployment`. */
export type ValidationResult = { ok: true; value: PixtralDeployment } | { ok: false; errors: FieldError[] };

function dotted(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
}

/**
 * zod issues as field errors that name the field the way the API server does (`spec.foo`),
 * one per unknown key, so a user reading either sees the same path.
 */
export function fieldErrors(error: z.ZodError): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          field: dotted([...issue.path, key]),
          message: 'unknown field; remove it (check its spelling)',
        });
      }
      continue;
    }
    out.push({ field: dotted(issue.path), message: issue.message });
  }
  return out;
}

/**
 * Validates a PixtralDeployment the way the API server would (schema, defaults and the catalog's
 * cross-field rules) and returns it with defaults applied. Never throws on bad input.
 */
export function validatePixtralDeployment(input: unknown): ValidationResult {
  const result = PixtralDeploymentSchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: fieldErrors(result.error) };
}
