/**
 * Stable hashing of JSON values: the same value gives the same hash whatever the key order, so
 * names and the pod-template annotation derived from it change only when the content does.
 */
import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level (arrays keep their order). Hand-written because it
 * is ten lines and `JSON.stringify` alone depends on insertion order; `undefined` members are
 * dropped as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Lower-case hex SHA-256 of a string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The first `length` hex digits of the SHA-256 of `value`'s canonical JSON (default 10: 40 bits). */
export function shortHash(value: unknown, length = 10): string {
  return sha256Hex(typeof value === 'string' ? value : canonicalJson(value)).slice(0, length);
}
