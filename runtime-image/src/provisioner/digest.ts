/**
 * What a file is checked against. The hub names every file of a revision by an id of its own: the
 * SHA-256 of an LFS (or Xet) file's content, and for a plain git file (params.json) only its git
 * blob id, SHA-1 over `blob <size>\0` and the bytes. A file is verified by whichever the hub gives,
 * so no digest has to be computed by hand from a web page.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ModelFile } from './spec.ts';

/** How a file is verified. */
export type DigestMethod = 'sha256' | 'git-blob-sha1';

/** The expected digest of a file. */
export interface ExpectedDigest {
  method: DigestMethod;
  /** Lowercase hex. */
  hex: string;
}

/** What `file` must hash to: its SHA-256 when known, else its git blob id. */
export function expectedDigest(file: ModelFile): ExpectedDigest {
  if (file.sha256 !== undefined) return { method: 'sha256', hex: file.sha256 };
  if (file.gitBlobSha1 !== undefined) return { method: 'git-blob-sha1', hex: file.gitBlobSha1 };
  throw new Error(`${file.name}: no digest to verify against (neither the catalog nor the hub gave one)`);
}

/** A hash of `method` primed for a file of `size` bytes (git's blob header goes first). */
export function startHash(method: DigestMethod, size: number): Hash {
  if (method === 'sha256') return createHash('sha256');
  return createHash('sha1').update(`blob ${size}\0`);
}

/** How a method reads in messages. */
export function methodLabel(method: DigestMethod): string {
  return method === 'sha256' ? 'SHA-256' : 'git blob SHA-1';
}
