/**
 * Command-line options of `provision-weights`, each with an env var fallback so the operator can set
 * them either way in the Job. Validated with zod; a bad value is a BadOptions error naming the flag.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ProvisionError } from './errors.ts';

const MiB = 1024 * 1024;

/** Validated options. Durations are in seconds as given on the command line. */
export const Options = z.object({
  /** `--spec <file>`: the model spec JSON; without it, the `PROVISION_SPEC` env var holds the JSON. */
  spec: z.string().min(1).optional(),
  /** `--target <dir>` (`PROVISION_TARGET`): the folder to fill, normally the weights PVC mount. Required. */
  target: z.string().min(1, 'is required'),
  /** `--hub-url` (`HF_ENDPOINT`, as huggingface_hub names it): the hub base URL, for mirrors. */
  hubUrl: z.url({ protocol: /^https?$/ }).default('https://huggingface.co'),
  /** `--token-file` (`HF_TOKEN_FILE`): a file holding the hub token (mounted from a Secret). Optional. */
  tokenFile: z.string().min(1).optional(),
  /** `--parallelism`: at most this many range requests per large file at once. Default 4; 1 = one at a time. */
  parallelism: z.coerce.number().int().min(1).max(32).default(4),
  /**
   * `--segment-size` (bytes, >= 1 MiB): files of at least twice this size are fetched as ranges of this
   * size, `parallelism` at a time, when the server supports Range. Default 64 MiB.
   */
  segmentSize: z.coerce
    .number()
    .int()
    .min(1 * MiB)
    .default(64 * MiB),
  /** `--progress-interval` (seconds, > 0): how often a progress line is logged. Default 10. */
  progressInterval: z.coerce.number().positive().default(10),
  /** `--stall-timeout` (seconds, > 0): a response that sends nothing for this long is cut and retried. Default 60. */
  stallTimeout: z.coerce.number().positive().default(60),
  /** `--retries`: failed attempts in a row (without progress) before giving up. Default 8; 0 = no retry. */
  retries: z.coerce.number().int().min(0).max(100).default(8),
  /** `--retry-base-delay` (seconds): first backoff delay, doubled each failure up to 60 s. Default 1. */
  retryBaseDelay: z.coerce.number().nonnegative().default(1),
  /** `--lock-stale` (seconds, >= 2): a lock not refreshed for this long belongs to a dead provisioner. Default 30. */
  lockStale: z.coerce.number().min(2).default(30),
  /** `--termination-log`: written with the outcome when the path exists (Kubernetes' terminationMessagePath). */
  terminationLog: z.string().default('/dev/termination-log'),
});
/** Validated options. */
export type Options = z.infer<typeof Options>;

const FLAGS = {
  spec: { env: 'PROVISION_SPEC_FILE' },
  target: { env: 'PROVISION_TARGET' },
  'hub-url': { env: 'HF_ENDPOINT' },
  'token-file': { env: 'HF_TOKEN_FILE' },
  parallelism: { env: 'PROVISION_PARALLELISM' },
  'segment-size': { env: 'PROVISION_SEGMENT_SIZE' },
  'progress-interval': { env: 'PROVISION_PROGRESS_INTERVAL' },
  'stall-timeout': { env: 'PROVISION_STALL_TIMEOUT' },
  retries: { env: 'PROVISION_RETRIES' },
  'retry-base-delay': { env: 'PROVISION_RETRY_BASE_DELAY' },
  'lock-stale': { env: 'PROVISION_LOCK_STALE' },
  'termination-log': { env: 'PROVISION_TERMINATION_LOG' },
} as const;

/** The usage text printed with `--help`. */
export const USAGE = `Usage: provision-weights --target <dir> [--spec <file>] [options]
Fills <dir> with a model's files, then writes .weights-manifest.json. From a hub, each file is
verified against the hub's own id at the pinned revision (SHA-256 of LFS files, which must match the
spec's; git blob SHA-1 of plain files); from a plain mirror, against the spec's SHA-256.
The spec comes from --spec <file> or the PROVISION_SPEC env var (JSON).
Options (env fallback in brackets):
${Object.entries(FLAGS)
  .map(([flag, { env }]) => `  --${flag} [${env}]`)
  .join('\n')}
Exit codes: 0 done, 1 internal error, 2 bad spec or options, 3 digest mismatch, 4 token refused,
5 not found, 6 disk full, 7 network or hub failure past the retries, 143 interrupted.
The termination log gets one JSON object: {code, retry, file, expected, got, message}.`;

/** Parses argv (without node and script) and env into Options, or throws BadOptions. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options & { help: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }]));
    values = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (err) {
    throw new ProvisionError('BadOptions', 'terminal', `${(err as Error).message}\n${USAGE}`);
  }
  const raw: Record<string, unknown> = {};
  for (const [flag, { env: name }] of Object.entries(FLAGS)) {
    const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = values[flag] ?? env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  if (values.help === true) return { ...Options.parse({ target: '.', ...raw }), help: true };
  const parsed = Options.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      return `--${flag}: ${issue.message}`;
    });
    throw new ProvisionError('BadOptions', 'terminal', `Invalid options: ${problems.join('; ')}\n${USAGE}`);
  }
  return { ...parsed.data, help: false };
}
