/**
 * The manifest: the only readiness signal of a weights folder. Written last, atomically and durably,
 * after every file is verified and in place; withdrawn first when a run finds one that does not match
 * its spec. Readers (the operator's Job check, the sidecar) trust the folder only when it is present.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
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

function fileKey(files: ModelFile[]): string {
  return JSON.stringify(files.map((f) => [f.name, f.size, f.sha256]).sort());
}

/** True when `manifest` describes exactly `spec`: same model, source and files (order aside). */
export function manifestMatches(manifest: Manifest, spec: ModelSpec): boolean {
  return (
    manifest.model === spec.model &&
    JSON.stringify(ModelSource.parse(manifest.source)) === JSON.stringify(spec.source) &&
    fileKey(manifest.files) === fileKey(spec.files)
  );
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

/** Writes the manifest for `spec`, durably. Call only after every file is verified and renamed. */
export async function writeManifest(target: string, spec: ModelSpec, now: Date): Promise<Manifest> {
  const manifest: Manifest = {
    version: 1,
    model: spec.model,
    source: spec.source,
    revision: spec.source.kind === 'hub' ? spec.source.revision : null,
    files: spec.files,
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
