/**
 * The model spec the operator hands to the provisioner (built from its catalog): which files to fetch,
 * from where, and the SHA-256 and size each must have. zod is the single source of truth; the operator
 * imports `ModelSpec` to build the JSON it passes in the `PROVISION_SPEC` env var or a `--spec` file.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ProvisionError } from './errors.ts';

// One path segment of a file name: no traversal, no hidden names (the provisioner keeps `.partial/`,
// `.provision.lock` and the manifest under dot names, so a catalog file can never collide with them).
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** A file of the model: its path inside the repository, its size in bytes and its lowercase SHA-256. */
export const ModelFile = z.object({
  name: z
    .string()
    .min(1)
    .max(255)
    .refine((name) => name.split('/').every((segment) => SEGMENT.test(segment)), {
      message: 'must be a relative path of plain segments (letters, digits, . _ -), no "..", no leading dot',
    }),
  size: z.number().int().nonnegative(),
  /**
   * False when `size` is only an estimate (the hub shows large files' sizes rounded): the exact
   * size is then learned from the server before downloading (sizes.ts); the SHA-256 still pins the
   * bytes. Default true.
   */
  sizeIsExact: z.boolean().default(true),
  /**
   * The content's SHA-256 when the catalog pins one (LFS files: the hub must agree). Absent for a
   * plain git file: the hub gives its blob id, which is what gets verified (`gitBlobSha1`).
   */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
    .transform((digest) => digest.toLowerCase())
    .optional(),
  /** The git blob id the hub gave for a plain (non-LFS) file; filled in by the provisioner, not the catalog. */
  gitBlobSha1: z
    .string()
    .regex(/^[0-9a-f]{40}$/, 'must be 40 lowercase hex digits')
    .optional(),
});
/** A file of the model, validated. */
export type ModelFile = z.infer<typeof ModelFile>;

/** Where the bytes come from: a Hugging Face-compatible hub at a pinned revision, or a plain mirror. */
export const ModelSource = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('hub'),
    repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be "owner/name"'),
    revision: z.string().min(1).max(255),
  }),
  z.object({
    kind: z.literal('url'),
    baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  }),
]);
/** Where the bytes come from, validated. */
export type ModelSource = z.infer<typeof ModelSource>;

/** The whole spec: a catalog model name, its source and its files (names unique). */
export const ModelSpec = z
  .object({
    model: z.string().min(1).max(253),
    source: ModelSource,
    files: z
      .array(ModelFile)
      .min(1)
      .refine((files) => new Set(files.map((f) => f.name)).size === files.length, {
        message: 'file names must be unique',
      }),
  })
  .refine((spec) => spec.source.kind === 'hub' || spec.files.every((f) => f.sha256 !== undefined), {
    message: 'a plain mirror has no file ids to ask: every file needs its sha256',
    path: ['files'],
  });
/** The whole spec, validated. */
export type ModelSpec = z.infer<typeof ModelSpec>;

/** Validates a parsed JSON value as a ModelSpec, or throws a BadSpec error listing every problem. */
export function parseSpec(value: unknown, origin: string): ModelSpec {
  const parsed = ModelSpec.safeParse(value);
  if (!parsed.success) {
    throw new ProvisionError(
      'BadSpec',
      'terminal',
      `Invalid model spec in ${origin}:\n${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/**
 * Reads the spec from `--spec <file>` when given, else from the `PROVISION_SPEC` env var (inline JSON).
 * Throws BadSpec when neither is set, the JSON does not parse, or the content is invalid.
 */
export async function loadSpec(specFile: string | undefined, env: NodeJS.ProcessEnv): Promise<ModelSpec> {
  let text: string;
  let origin: string;
  if (specFile !== undefined) {
    origin = specFile;
    try {
      text = await readFile(specFile, 'utf8');
    } catch (err) {
      throw new ProvisionError(
        'BadSpec',
        'terminal',
        `Cannot read the model spec file ${specFile}: ${(err as Error).message}`,
      );
    }
  } else if (env.PROVISION_SPEC !== undefined && env.PROVISION_SPEC !== '') {
    origin = 'the PROVISION_SPEC env var';
    text = env.PROVISION_SPEC;
  } else {
    throw new ProvisionError(
      'BadSpec',
      'terminal',
      'No model spec: pass --spec <file> or set PROVISION_SPEC to the JSON spec',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ProvisionError(
      'BadSpec',
      'terminal',
      `The model spec in ${origin} is not JSON: ${(err as Error).message}`,
    );
  }
  return parseSpec(json, origin);
}

/** The URL the first request for `file` goes to (the hub answers it with a redirect to its file store). */
export function fileUrl(source: ModelSource, hubUrl: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  if (source.kind === 'hub') {
    const base = hubUrl.replace(/\/+$/, '');
    return `${base}/${source.repo}/resolve/${encodeURIComponent(source.revision)}/${path}`;
  }
  return `${source.baseUrl.replace(/\/+$/, '')}/${path}`;
}
