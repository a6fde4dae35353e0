/**
 * Deterministic, length-safe names of every child (docs/conventions.md#names): no generateName, so a stale cache
 * or a restart can never make a second copy; a too-long or unusual name is cut and given a short
 * hash of the full name, so two different inputs never collide.
 */
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import type { CatalogModel } from '../catalog/index.ts';
import { shortHash } from './hash.ts';

/** The longest DNS-1123 label (and so the longest Service, label value or Deployment name). */
export const MAX_NAME_LENGTH = 63;
const HASH_LENGTH = 8;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * `<base>-<suffix>` as a DNS-1035 label (63 characters at most, starts with a letter), valid as a
 * Service, Deployment, Secret or label value. When the plain join is not such a label (too long,
 * dots, upper case, a leading digit), the base is cleaned and cut and `-<8 hex of sha256>` of the
 * original `<base>/<suffix>` is appended before the suffix, so the result stays unique.
 * Assumes `suffix` is itself a short DNS label (the builders pass constants).
 */
export function childName(base: string, suffix: string): string {
  const plain = suffix ? `${base}-${suffix}` : base;
  if (plain.length <= MAX_NAME_LENGTH && DNS_1035_LABEL.test(plain)) return plain;
  const hash = shortHash(`${base}/${suffix}`, HASH_LENGTH);
  let cleaned = base.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  if (!/^[a-z]/.test(cleaned)) cleaned = `x${cleaned}`;
  const tail = suffix ? `-${hash}-${suffix}` : `-${hash}`;
  const room = MAX_NAME_LENGTH - tail.length;
  cleaned = cleaned.slice(0, Math.max(1, room)).replace(/-+$/, '');
  return `${cleaned}${tail}`;
}

/** Name of the CR's serving Deployment (also its Service, PDB and ScaledObject): `<name>-pixtral`. */
export function workloadName(cr: PixtralDeployment): string {
  return childName(cr.metadata.name!, 'pixtral');
}

/** Name of the user-facing API keys Secret: `spec.apiKeys.secretName`, else `<name>-api-keys`. */
export function apiKeysSecretName(cr: PixtralDeployment): string {
  return cr.spec.apiKeys?.secretName ?? childName(cr.metadata.name!, 'api-keys');
}

/** Name of the key-hashes Secret the sidecars mount: `<name>-api-key-hashes`. */
export function apiKeyHashesSecretName(cr: PixtralDeployment): string {
  return childName(cr.metadata.name!, 'api-key-hashes');
}

/** Name of the TLS Secret of the public endpoint when cert-manager issues it: `<name>-tls`. */
export function tlsSecretName(cr: PixtralDeployment): string {
  return childName(cr.metadata.name!, 'tls');
}

/**
 * Name of the weights cache of a model at its pinned revision: `weights-<model-slug>-<rev-hash>`.
 * The slug is the catalog name cleaned to a label (cut to fit); the hash covers the model name and
 * revision, so two models or two revisions never share a cache.
 */
export function weightsPvcName(model: CatalogModel): string {
  const hash = shortHash(`${model.name}@${model.weights.revision}`, HASH_LENGTH);
  const slug = model.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_NAME_LENGTH - 'weights-'.length - hash.length - 1)
    .replace(/-+$/, '');
  return `weights-${slug}-${hash}`;
}

/** Name of the cluster-scoped Karpenter NodePool of a node type: `pixtral-<nodetype>`, lower case. */
export function nodePoolName(nodeType: string): string {
  return `pixtral-${nodeType.toLowerCase()}`;
}
