/**
 * Small stand-in weights for the realnode tests: the real tokenizer (the sidecar counts tokens
 * with it), a `params.json` and a 1 MiB `consolidated.safetensors` of random bytes, the files the
 * catalog lists for Pixtral. The whole folder is about 19 MB instead of 25 GB.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperatorConfigInput } from '../../operator/src/config.ts';
import { ROOT } from '../image/docker.ts';
import type { HubFile } from '../provisioner/hub-server.ts';

/** The file a hub keeps in plain git (verified by its git blob id), as on Hugging Face. */
const PLAIN_FILE = 'params.json';

type WeightsSource = NonNullable<NonNullable<OperatorConfigInput['weights']>['sources']>[string];

/** Writes the stand-in weights into `dir` and returns them as a hub serves them. */
export function writeStandInWeights(dir: string): HubFile[] {
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, '.cache', 'tekken', 'tekken.json'), join(dir, 'tekken.json'));
  writeFileSync(join(dir, PLAIN_FILE), '{"dim":5120}');
  writeFileSync(join(dir, 'consolidated.safetensors'), randomBytes(1024 * 1024));
  return ['consolidated.safetensors', PLAIN_FILE, 'tekken.json'].map((name) => {
    const bytes = readFileSync(join(dir, name));
    return {
      name,
      path: join(dir, name),
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      lfs: name !== PLAIN_FILE,
    };
  });
}

/**
 * The operator configuration's `weights.sources` entry for `files` served by a mirror at
 * `repo`@`revision`: every LFS file pinned by its SHA-256, the plain one by the hub's blob id.
 */
export function mirrorSource(files: HubFile[], repo: string, revision: string): WeightsSource {
  return {
    repo,
    revision,
    files: files.map((f) => ({
      path: f.name,
      sizeBytes: f.size,
      ...(f.lfs === false ? {} : { sha256: f.sha256 }),
    })),
  };
}
