/**
 * Asks the hub which files exist at the pinned revision and their ids, through the API Hugging
 * Face's own client uses (`POST /api/models/<repo>/paths-info/<revision>`, huggingface_hub's
 * get_paths_info): each entry gives the git blob id (`oid`) and size, and for LFS/Xet files the
 * content's SHA-256 (`lfs.oid`) and size. `resolveWithHub` then makes the spec exact: sizes from the
 * hub, SHA-256 for LFS files (the catalog's pinned digest must agree), the git blob id for plain
 * files. A file the revision does not hold is refused before any download.
 */
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { classifyError, ProvisionError } from './errors.ts';
import { redactUrl } from './http.ts';
import type { ModelFile, ModelSpec } from './spec.ts';

/** One path as the hub describes it. */
export const HubEntry = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().int().nonnegative(),
  oid: z.string().regex(/^[0-9a-f]{40}$/),
  lfs: z
    .object({
      oid: z.string().regex(/^[0-9a-f]{64}$/),
      size: z.number().int().nonnegative(),
    })
    .optional(),
});
/** One path as the hub describes it. */
export type HubEntry = z.infer<typeof HubEntry>;

/** The hub's entries for `paths` of `repo` at `revision`. */
export async function fetchHubEntries(
  dispatcher: Dispatcher,
  request: { hubUrl: string; repo: string; revision: string; paths: string[]; token: string | undefined },
  signal: AbortSignal,
): Promise<HubEntry[]> {
  const url = `${request.hubUrl.replace(/\/+$/, '')}/api/models/${request.repo}/paths-info/${encodeURIComponent(request.revision)}`;
  const body = new URLSearchParams();
  for (const path of request.paths) body.append('paths', path);
  body.append('expand', 'false');
  let response: Dispatcher.ResponseData;
  try {
    response = await dispatcher.request({
      origin: new URL(url).origin,
      path: new URL(url).pathname,
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
      },
      body: body.toString(),
      signal,
    });
  } catch (err) {
    throw classifyError(err, `Asking ${redactUrl(url)} for the file ids`);
  }
  const text = await response.body.text();
  const where = `${redactUrl(url)} answered ${response.statusCode}`;
  if (response.statusCode === 401 || response.statusCode === 403)
    throw new ProvisionError(
      'Unauthorized',
      'terminal',
      `${where}: the hub token is missing, wrong or lacks access`,
    );
  if (response.statusCode === 404)
    throw new ProvisionError('NotFound', 'terminal', `${where}: check the repository and revision`);
  if (response.statusCode >= 500 || response.statusCode === 429 || response.statusCode === 408)
    throw new ProvisionError('HttpError', 'transient', where);
  if (response.statusCode !== 200) throw new ProvisionError('HttpError', 'terminal', where);
  const parsed = z.array(HubEntry.loose()).safeParse(safeJson(text));
  if (!parsed.success)
    throw new ProvisionError('HttpError', 'terminal', `${where} with file ids this provisioner cannot read`);
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `spec` made exact by the hub's entries (see the module comment). Pure. */
export function resolveWithHub(spec: ModelSpec, entries: HubEntry[]): ModelSpec {
  const byPath = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.path, e]));
  const files = spec.files.map((file): ModelFile => {
    const entry = byPath.get(file.name);
    if (entry === undefined) {
      throw new ProvisionError(
        'NotFound',
        'terminal',
        `${file.name}: the hub has no such file at this revision`,
        {
          detail: { file: file.name },
        },
      );
    }
    if (entry.lfs !== undefined) {
      if (file.sha256 !== undefined && file.sha256 !== entry.lfs.oid) {
        throw new ProvisionError(
          'CatalogMismatch',
          'terminal',
          `${file.name}: the catalog pins SHA-256 ${file.sha256}, the hub says ${entry.lfs.oid} at this revision`,
          { detail: { file: file.name, expected: file.sha256, got: entry.lfs.oid } },
        );
      }
      const { gitBlobSha1: _plain, ...rest } = file;
      return { ...rest, size: entry.lfs.size, sizeIsExact: true, sha256: entry.lfs.oid };
    }
    // A plain git file: the hub gives no SHA-256, only the blob id; that is what gets verified.
    const { sha256: _unused, ...rest } = file;
    return { ...rest, size: entry.size, sizeIsExact: true, gitBlobSha1: entry.oid };
  });
  return { ...spec, files };
}
