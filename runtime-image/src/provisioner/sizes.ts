/**
 * Exact sizes for files the catalog knows only roughly. Hugging Face publishes SHA-256 digests but
 * shows large files' sizes rounded ("25.4 GB"), so a catalog entry may carry `sizeIsExact: false`.
 * The SHA-256 still pins the bytes; the size is then taken from a finished manifest of the same
 * digest, or asked of the server with a one-byte range request (Content-Range names the total),
 * before anything relies on it (disk space check, ranges, progress).
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { ProvisionError } from './errors.ts';
import { discard, openBody } from './http.ts';
import type { Manifest } from './manifest.ts';
import type { ModelFile, ModelSpec } from './spec.ts';

/** `spec` with inexact sizes replaced by those of a manifest entry with the same name and digest. */
export function withManifestSizes(spec: ModelSpec, manifest: Manifest | undefined): ModelSpec {
  if (!manifest) return spec;
  return {
    ...spec,
    files: spec.files.map((file) => {
      if (file.sizeIsExact) return file;
      const known = manifest.files.find((m) => m.name === file.name && m.sha256 === file.sha256);
      return known ? { ...file, size: known.size, sizeIsExact: true } : file;
    }),
  };
}

/** `spec` with every remaining inexact size asked of the server (one small request per such file). */
export async function resolveSizes(
  spec: ModelSpec,
  deps: {
    dispatcher: Dispatcher;
    urlOf: (file: ModelFile) => string;
    token: string | undefined;
    log: Logger;
    signal: AbortSignal;
  },
): Promise<ModelSpec> {
  const files: ModelFile[] = [];
  for (const file of spec.files) {
    if (file.sizeIsExact) {
      files.push(file);
      continue;
    }
    const opened = await openBody(deps.dispatcher, {
      url: deps.urlOf(file),
      token: deps.token,
      range: { start: 0, end: 1 },
      ifRange: undefined,
      signal: deps.signal,
    });
    discard(opened.body);
    const size = opened.contentRange?.total ?? opened.contentLength;
    if (size === undefined) {
      throw new ProvisionError(
        'SizeMismatch',
        'terminal',
        `${file.name}: the server does not say how large the file is, and the catalog size ${file.size} is only an estimate`,
      );
    }
    deps.log.info(
      { file: file.name, estimated: file.size, size },
      'Learned the exact size of a file from the server',
    );
    files.push({ ...file, size, sizeIsExact: true });
  }
  return { ...spec, files };
}
