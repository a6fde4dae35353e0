/**
 * Comparisons that let the writer skip no-op applies: is every desired value already live, and
 * does the live object's managed-fields record name a field we no longer want.
 */

/**
 * Whether every value in `desired` is present and equal in `actual`. Maps compare key by key
 * (extra live keys are fine: defaults, other managers). Lists of scalars must be equal; in lists
 * of objects each desired element must be a subset of some live element (associative lists
 * such as containers or ownerReferences may hold others' elements too).
 */
export function isSubset(desired: unknown, actual: unknown): boolean {
  if (desired === null || desired === undefined) return true;
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual)) return desired.length === 0 && (actual === undefined || actual === null);
    if (desired.every((d) => typeof d !== 'object' || d === null)) {
      return desired.length === actual.length && desired.every((d, i) => d === actual[i]);
    }
    return desired.every((d) => actual.some((a) => isSubset(d, a)));
  }
  if (typeof desired === 'object') {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) {
      return Object.keys(desired).length === 0 && (actual === undefined || actual === null);
    }
    const live = actual as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => isSubset(v, live[k]));
  }
  return desired === actual;
}

/**
 * Whether a managed-fields set (`fieldsV1`: `{"f:metadata": {"f:labels": {"f:a": {}}}}`)
 * names a map field missing from `desired`, i.e. apply would remove a field we set earlier.
 * Lists (`k:`/`v:`/`i:` members) are not inspected: `isSubset` covers their contents.
 * `under` restricts the walk to one top-level path (for example `['status']`).
 */
export function fieldsDriftFrom(
  fields: Record<string, unknown> | undefined,
  desired: unknown,
  under?: string[],
): boolean {
  if (!fields) return false;
  let node: unknown = fields;
  let value: unknown = desired;
  for (const part of under ?? []) {
    node = (node as Record<string, unknown>)[`f:${part}`];
    value = (value as Record<string, unknown> | undefined)?.[part];
    if (!node) return false;
  }
  return walk(node as Record<string, unknown>, value);
}

function walk(node: Record<string, unknown>, value: unknown): boolean {
  for (const [member, child] of Object.entries(node)) {
    if (!member.startsWith('f:')) continue;
    const name = member.slice(2);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return true;
    const v = (value as Record<string, unknown>)[name];
    if (v === undefined) return true;
    if (child && typeof child === 'object' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      if (walk(child as Record<string, unknown>, v)) return true;
    }
  }
  return false;
}
