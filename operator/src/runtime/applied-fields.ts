/**
 * What one field manager's server-side applies hold on an object, reduced to a digest, so the
 * caches need not keep `managedFields` (or a Deployment's pod template) to tell whether an apply
 * would change anything.
 *
 * The API server records, per manager, the set of fields its applies own (`fieldsV1`). Taking
 * the live values at exactly those fields gives back what that manager last applied, unless
 * someone changed one of them since: another writer's change moves the field's ownership away
 * from the manager, so the field drops out of its set, and a field it applied but no longer
 * wants is still in it. This is client-go's `Extract<Kind>` (applyconfigurations), written by
 * hand because it works on typed structs there and no JavaScript library offers it. An apply is
 * needed exactly when the desired object's digest differs from the digest of that extract.
 *
 * Both sides are reduced the same way before hashing: object keys sorted, and values that an
 * apply does not record (`undefined`, `null`, empty objects and lists, the object's identity:
 * apiVersion, kind, metadata.name and metadata.namespace) left out.
 */
import { hash } from 'node:crypto';
import type { KubernetesObject, V1ManagedFieldsEntry } from '@kubernetes/client-node';

/** One manager's applies on an object, as the caches keep them. */
export interface AppliedFields {
  manager: string;
  /** '' for the object itself, 'status' for its status subresource. */
  subresource: string;
  /** Digest of the values at the fields this manager's applies own. */
  digest: string;
  /** The owned fields' paths two levels deep (`spec.replicas`, `metadata.labels`). */
  paths: readonly string[];
}

type FieldSet = Record<string, unknown>;

/** The `Apply` entries of `object`'s managedFields, reduced (an entry without fields reduces to no fields). */
export function appliedFieldsOf(object: KubernetesObject): AppliedFields[] {
  const entries = object.metadata?.managedFields ?? [];
  return entries
    .filter(
      (entry): entry is V1ManagedFieldsEntry & { manager: string } =>
        entry.operation === 'Apply' && !!entry.manager,
    )
    .map((entry) => {
      const fields = (entry.fieldsV1 ?? {}) as FieldSet;
      return {
        manager: entry.manager,
        subresource: entry.subresource ?? '',
        digest: digestOf(extract(fields, object)),
        paths: ownedPaths(fields),
      };
    });
}

/** The digest an apply of `desired` would leave for its manager (compare with `AppliedFields.digest`). */
export function desiredDigest(desired: KubernetesObject): string {
  const { apiVersion: _a, kind: _k, metadata, ...body } = desired as Record<string, unknown>;
  const { name: _n, namespace: _ns, ...identityFree } = (metadata ?? {}) as Record<string, unknown>;
  return digestOf({ ...body, metadata: identityFree });
}

/** A stable digest of JSON-like `value` (see the file comment for what is left out). */
function digestOf(value: unknown): string {
  return hash('sha1', JSON.stringify(canonical(value) ?? null), 'base64');
}

/** `value` with sorted keys and without what an apply does not record; undefined when nothing is left. */
function canonical(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    const items = value.map((item) => canonical(item) ?? {});
    return items.length ? items : undefined;
  }
  if (typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const child = canonical((value as Record<string, unknown>)[key]);
    if (child !== undefined) out[key] = child;
  }
  return Object.keys(out).length ? out : undefined;
}

/** A field set's member with no members below it (the `.` member only marks the node as owned). */
function isLeaf(fields: unknown): boolean {
  if (!fields || typeof fields !== 'object') return true;
  return Object.keys(fields).every((member) => member === '.');
}

/** The values of `live` at the fields of `fields` (a `fieldsV1` set or a node of one). */
export function extract(fields: FieldSet, live: unknown): unknown {
  if (Array.isArray(live)) return extractItems(fields, live);
  if (!live || typeof live !== 'object') return live;
  const object = live as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [member, child] of Object.entries(fields)) {
    if (!member.startsWith('f:')) continue;
    const name = member.slice(2);
    if (!(name in object)) continue;
    out[name] = isLeaf(child) ? object[name] : extract(child as FieldSet, object[name]);
  }
  return out;
}

/** The items of a live list that `fields` names by key (`k:`), value (`v:`) or index (`i:`), in live order. */
function extractItems(fields: FieldSet, live: unknown[]): unknown[] {
  const byKey: { key: Record<string, unknown>; fields: unknown }[] = [];
  const byValue: string[] = [];
  const byIndex = new Map<number, unknown>();
  for (const [member, child] of Object.entries(fields)) {
    const tail = member.slice(2);
    if (member.startsWith('k:'))
      byKey.push({ key: JSON.parse(tail) as Record<string, unknown>, fields: child });
    else if (member.startsWith('v:')) byValue.push(JSON.stringify(canonical(JSON.parse(tail))));
    else if (member.startsWith('i:')) byIndex.set(Number(tail), child);
  }
  const out: unknown[] = [];
  live.forEach((item, index) => {
    const keyed = byKey.find(({ key }) => matchesKey(key, item));
    if (keyed) out.push(isLeaf(keyed.fields) ? item : extract(keyed.fields as FieldSet, item));
    else if (byIndex.has(index)) {
      const child = byIndex.get(index);
      out.push(isLeaf(child) ? item : extract(child as FieldSet, item));
    } else if (byValue.length && byValue.includes(JSON.stringify(canonical(item)))) out.push(item);
  });
  return out;
}

function matchesKey(key: Record<string, unknown>, item: unknown): boolean {
  if (!item || typeof item !== 'object') return false;
  const live = item as Record<string, unknown>;
  return Object.entries(key).every(([field, value]) => live[field] === value);
}

/** `fields`' owned paths two levels deep, dotted. */
function ownedPaths(fields: FieldSet): string[] {
  const paths: string[] = [];
  for (const [member, child] of Object.entries(fields)) {
    if (!member.startsWith('f:')) continue;
    const name = member.slice(2);
    const below =
      child && typeof child === 'object' ? Object.keys(child).filter((m) => m.startsWith('f:')) : [];
    if (below.length === 0) paths.push(name);
    for (const inner of below) paths.push(`${name}.${inner.slice(2)}`);
  }
  return paths;
}

/** The reduced applies of cached objects, which keep no managedFields themselves. */
const kept = new WeakMap<object, readonly AppliedFields[]>();

/** Remembers `applied` for `object` (a cached object whose managedFields were dropped). */
export function keepAppliedFields(object: object, applied: readonly AppliedFields[]): void {
  kept.set(object, applied);
}

/** The applies on `object`: as kept for a cached object, else reduced from its managedFields. */
function appliedFields(object: KubernetesObject): readonly AppliedFields[] {
  return kept.get(object) ?? appliedFieldsOf(object);
}

/** `manager`'s applies on `object` (its `subresource`: '' for the object itself), if any. */
export function appliedBy(
  object: KubernetesObject,
  manager: string,
  subresource = '',
): AppliedFields | undefined {
  return appliedFields(object).find((a) => a.manager === manager && a.subresource === subresource);
}
