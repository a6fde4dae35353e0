/**
 * The manifest: the only readiness signal of a weights folder. Written last, atomically and durably,
 * after every file is verified and in place; withdrawn first when a run finds one that does not match
 * its spec. Readers (the operator's Job check, the sidecar) trust the folder only when it is present.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { expectedDigest } from './digest.ts';
import { fsyncDir, writeFileAtomic } from './fs-atomic.ts';
import { ModelFile, ModelSource, type ModelSpec } from './spec.ts';

/** The manifest's file name inside the target folder (hidden, like everything the provisioner owns). */
export const MANIFEST_NAME = '.weights-manifest.json';

/** What the manifest records. */
export const Manifest = z.object({
  version: z.literal(1),
  model: z.string(),
  source: ModelSource,
  /** The hub revision, or null for a plain mirror. */
  revision: z.string().nullable(),
  files: z.array(ModelFile),
  /**
   * How each file was verified: `sha256` (an LFS file's content digest, from the hub; `catalog` when
   * the catalog pinned the same one) or `git-blob-sha1` (a plain git file's blob id, from the hub),
   * or `sha256` from the catalog alone for a plain mirror.
   */
  verified: z
    .array(
      z.object({
        name: z.string(),
        method: z.enum(['sha256', 'git-blob-sha1']),
        digest: z.string(),
        from: z.enum(['hub', 'hub+catalog', 'catalog']),
      }),
    )
    .optional(),
  /** When the last file was verified (ISO 8601). */
  completedAt: z.string(),
});
/** What the manifest records. */
export type Manifest = z.infer<typeof Manifest>;

/** Reads the manifest; undefined when absent or unreadable (an unreadable manifest is no signal). */
export async function readManifest(target: string): Promise<Manifest | undefined> {
  try {
    return Manifest.parse(JSON.parse(await readFile(join(target, MANIFEST_NAME), 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * True when `manifest` was written for `spec` as requested: same model, source and file names, each
 * pinned digest the same, each exact size the same. (The ids the hub gave are in the manifest; the
 * request names them only where the catalog pins them.)
 */
export function manifestMatches(manifest: Manifest, spec: ModelSpec): boolean {
  if (manifest.model !== spec.model) return false;
  if (JSON.stringify(ModelSource.parse(manifest.source)) !== JSON.stringify(spec.source)) return false;
  if (manifest.files.length !== spec.files.length) return false;
  return spec.files.every((file) => {
    const done = manifest.files.find((m) => m.name === file.name);
    return (
      done !== undefined &&
      (file.sha256 === undefined || done.sha256 === file.sha256) &&
      (!file.sizeIsExact || done.size === file.size)
    );
  });
}

/** True when every file of `spec` exists in `target` with its catalog size (a cheap check, no hashing). */
export async function filesPresent(target: string, spec: ModelSpec): Promise<boolean> {
  for (const file of spec.files) {
    const size = await stat(join(target, file.name)).then(
      (s) => (s.isFile() ? s.size : -1),
      () => -1,
    );
    if (size !== file.size) return false;
  }
  return true;
}

/**
 * Writes the manifest for `spec` (as verified; `requested` is what the catalog pinned), durably.
 * Call only after every file is verified and renamed.
 */
export async function writeManifest(
  target: string,
  spec: ModelSpec,
  requested: ModelSpec,
  now: Date,
): Promise<Manifest> {
  const hub = spec.source.kind === 'hub';
  const manifest: Manifest = {
    version: 1,
    model: spec.model,
    source: spec.source,
    revision: hub ? (spec.source as { revision: string }).revision : null,
    files: spec.files,
    verified: spec.files.map((file) => {
      const expected = expectedDigest(file);
      const pinned = requested.files.find((r) => r.name === file.name)?.sha256;
      return {
        name: file.name,
        method: expected.method,
        digest: expected.hex,
        from: !hub ? 'catalog' : pinned === expected.hex ? 'hub+catalog' : 'hub',
      };
    }),
    completedAt: now.toISOString(),
  };
  await writeFileAtomic(join(target, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`, true);
  return manifest;
}

/** Deletes the manifest durably, so the folder stops being ready before anything in it changes. */
export async function removeManifest(target: string): Promise<void> {
  await rm(join(target, MANIFEST_NAME), { force: true });
  await fsyncDir(target);
}
