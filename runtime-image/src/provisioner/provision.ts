/**
 * One provisioning run: take the folder lock, return at once if a matching manifest is there, ask
 * the hub for the revision's file ids, verify files already in place, check disk space, download
 * what is missing (each verified against the hub's id), then write the manifest.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import { expectedDigest } from './digest.ts';
import { checkDiskSpace, formatBytes, hashFile } from './disk.ts';
import { downloadFile } from './download.ts';
import { ProvisionError } from './errors.ts';
import { fetchHubEntries, resolveWithHub } from './hub-ids.ts';
import { acquireLock } from './lock.ts';
import { filesPresent, manifestMatches, readManifest, removeManifest, writeManifest } from './manifest.ts';
import type { Options } from './options.ts';
import { doneBytes, loadPartial, PARTIAL_DIR, type PartialState, partialPaths } from './partial.ts';
import { Progress } from './progress.ts';
import { withRetry } from './retry.ts';
import { resolveSizes, withManifestSizes } from './sizes.ts';
import { fileUrl, type ModelFile, type ModelSpec } from './spec.ts';

/** What a run did, for the summary line and the termination message. */
export interface ProvisionResult {
  /** True when a matching manifest was already there and nothing was done. */
  noop: boolean;
  files: number;
  totalBytes: number;
  /** Bytes received over the network in this run. */
  transferredBytes: number;
  seconds: number;
}

/** Fills `options.target` with `spec`'s files. Throws a ProvisionError on failure. */
export async function provision(
  requested: ModelSpec,
  options: Options,
  deps: { log: Logger; signal: AbortSignal; token: string | undefined; now?: () => Date },
): Promise<ProvisionResult> {
  const { log, token } = deps;
  const target = options.target;
  const startedAt = performance.now();
  await mkdir(target, { recursive: true });

  // A lost lock means another provisioner may be writing here: stop everything.
  const lockLost = new AbortController();
  const signal = AbortSignal.any([deps.signal, lockLost.signal]);
  const release = await acquireLock(target, {
    staleMs: options.lockStale * 1000,
    log,
    signal,
    onCompromised: (err) =>
      lockLost.abort(
        new ProvisionError('LockCompromised', 'terminal', `Lost the folder lock: ${err.message}`),
      ),
  });
  const agent = new Agent({
    connections: options.parallelism + 1,
    headersTimeout: options.stallTimeout * 1000,
    bodyTimeout: options.stallTimeout * 1000,
  });
  let progress: Progress | undefined;
  try {
    const manifest = await readManifest(target);
    let spec = withManifestSizes(requested, manifest);
    let totalBytes = spec.files.reduce((sum, f) => sum + f.size, 0);
    if (manifest !== undefined && manifestMatches(manifest, spec) && (await filesPresent(target, spec))) {
      log.info(
        { model: spec.model, completedAt: manifest.completedAt },
        'Found the weights already provisioned',
      );
      return { noop: true, files: spec.files.length, totalBytes, transferredBytes: 0, seconds: 0 };
    }
    if (manifest !== undefined) {
      await removeManifest(target);
      log.warn({ model: manifest.model }, 'Withdrew a manifest that does not match the spec');
    }

    const source = spec.source;
    if (source.kind === 'hub') {
      // The hub's own ids at the pinned revision: exact sizes, SHA-256 of LFS files (the catalog's
      // must agree), git blob ids of plain files. Nothing is downloaded before they are known.
      const entries = await withRetry(
        () =>
          fetchHubEntries(
            agent,
            {
              hubUrl: options.hubUrl,
              repo: source.repo,
              revision: source.revision,
              paths: spec.files.map((f) => f.name),
              token,
            },
            signal,
          ),
        {
          policy: {
            retries: options.retries,
            baseDelayMs: options.retryBaseDelay * 1000,
            maxDelayMs: 60_000,
          },
          signal,
          progress: () => 0,
          onRetry: (err, failures, delayMs) =>
            log.warn(
              { code: err.code, reason: err.message, failures, delayMs },
              'Retrying after a transient error',
            ),
        },
      );
      spec = resolveWithHub(spec, entries);
      log.info(
        {
          revision: source.revision,
          files: spec.files.map((f) => ({ name: f.name, size: f.size, ...expectedDigestField(f) })),
        },
        'Read the file ids of the revision from the hub',
      );
    } else {
      spec = await resolveSizes(spec, {
        dispatcher: agent,
        urlOf: (file) => fileUrl(source, options.hubUrl, file.name),
        token: undefined,
        log,
        signal,
      });
    }
    totalBytes = spec.files.reduce((sum, f) => sum + f.size, 0);
    progress = new Progress(log, totalBytes, options.progressInterval * 1000);
    const missing: ModelFile[] = [];
    for (const file of spec.files) {
      if (await verifiedInPlace(target, file, log, signal)) progress.reused(file.size);
      else missing.push(file);
    }
    // Each file's resume record, read once: for the space estimate, then to resume from.
    const partials: (PartialState | undefined)[] = [];
    let needed = 0;
    for (const file of missing) {
      const partial = await loadPartial(partialPaths(target, file.name), file);
      partials.push(partial);
      needed += file.size - (partial === undefined ? 0 : doneBytes(partial));
    }
    const { freeBytes } = await checkDiskSpace(target, needed);
    log.info(
      { model: spec.model, files: missing.map((f) => f.name), neededBytes: needed, freeBytes },
      `Started provisioning ${formatBytes(needed)} in ${missing.length} files`,
    );

    progress.start();
    for (const [i, file] of missing.entries()) {
      await downloadFile(
        {
          dispatcher: agent,
          url: fileUrl(spec.source, options.hubUrl, file.name),
          token: spec.source.kind === 'hub' ? token : undefined,
          target,
          parallelism: options.parallelism,
          segmentSize: options.segmentSize,
          retry: { retries: options.retries, baseDelayMs: options.retryBaseDelay * 1000, maxDelayMs: 60_000 },
          progress,
          log,
          signal,
        },
        file,
        partials[i],
      );
      log.info(
        { file: file.name, size: file.size, ...expectedDigestField(file) },
        'Verified and placed file',
      );
    }
    progress.stop();
    await writeManifest(target, spec, requested, deps.now?.() ?? new Date());
    await rm(join(target, PARTIAL_DIR), { recursive: true, force: true });
    const snapshot = progress.tick();
    return {
      noop: false,
      files: spec.files.length,
      totalBytes,
      transferredBytes: snapshot.transferredBytes,
      seconds: (performance.now() - startedAt) / 1000,
    };
  } finally {
    progress?.stop();
    await agent.close().catch(() => {});
    await release().catch(() => {});
  }
}

/** `{ sha256 }` or `{ gitBlobSha1 }`: what a file is verified by, for logs. */
function expectedDigestField(file: ModelFile): Record<string, string> {
  const expected = expectedDigest(file);
  return expected.method === 'sha256' ? { sha256: expected.hex } : { gitBlobSha1: expected.hex };
}

/** True when the final file is there with the catalog digest; a wrong one is deleted to free space. */
async function verifiedInPlace(
  target: string,
  file: ModelFile,
  log: Logger,
  signal: AbortSignal,
): Promise<boolean> {
  const path = join(target, file.name);
  const size = await stat(path).then(
    (s) => (s.isFile() ? s.size : -1),
    () => -1,
  );
  if (size === -1) return false;
  const expected = expectedDigest(file);
  if (size === file.size && (await hashFile(path, signal, expected.method, file.size)) === expected.hex) {
    log.info({ file: file.name }, 'Verified a file already in place');
    return true;
  }
  log.warn({ file: file.name }, 'Deleted a file in place that does not match the catalog');
  await rm(path, { force: true });
  return false;
}
