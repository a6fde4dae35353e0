/**
 * Runtime configuration from flags and environment, validated with zod. A flag wins over its
 * environment variable, which wins over the default. Bad values fail with a message naming
 * the flag, the variable and what is expected.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const ms = (min: number) => z.coerce.number().int().min(min);

/** The schema; each field documents its unit, default and what 0 means. */
export const RuntimeConfigSchema = z
  .object({
    /** Path of a kubeconfig file; empty = in-cluster service account, else KUBECONFIG / ~/.kube/config. */
    kubeconfig: z.string().default(''),
    /**
     * Namespace to watch, or several separated by commas (one list and watch each, so namespaced
     * Roles suffice); empty (default) = all namespaces.
     */
    namespace: z.string().default(''),
    /** Port of /healthz, /readyz and /metrics. Default 8080; 0 = pick a free port. */
    healthPort: port.default(8080),
    /**
     * Address the health server binds. Default 0.0.0.0 (a pod's probes come from the node); in
     * local mode (`npm start` with no cluster) 127.0.0.1, since nothing outside this machine needs it.
     */
    healthHost: z.string().min(1).optional(),
    /** Reconcile workers per controller. Default 4. */
    workers: z.coerce.number().int().min(1).max(64).default(4),
    /** Whether to elect a leader before reconciling. Default true. */
    leaderElect: z.stringbool().default(true),
    /** Namespace of the Lease. Default POD_NAMESPACE, else `default`. */
    leaderElectionNamespace: z
      .string()
      .min(1)
      .default(process.env.POD_NAMESPACE || 'default'),
    /** Name of the Lease. Default `pixtral-operator`. */
    leaderElectionId: z.string().min(1).default('pixtral-operator'),
    /** This replica's identity in the Lease. Default POD_NAME or the host name, plus a random suffix. */
    identity: z
      .string()
      .min(1)
      .default(`${process.env.POD_NAME || hostname()}_${Math.random().toString(36).slice(2, 8)}`),
    /** Lease duration, ms. Default 15000. */
    leaseDurationMs: ms(1000).default(15_000),
    /** Leader gives up if no renewal succeeds within this, ms. Default 10000. */
    renewDeadlineMs: ms(500).default(10_000),
    /** Interval between lease attempts, ms. Default 2000. */
    retryPeriodMs: ms(100).default(2_000),
    /** Periodic re-check of every root object, ms. Default 600000; 0 disables. */
    resyncMs: ms(0).default(600_000),
    /** How long SIGTERM waits for in-flight reconciles, ms. Default 20000. */
    shutdownTimeoutMs: ms(0).default(20_000),
    /** pino level. Default info. */
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /**
     * `json`: one JSON object a line, for log collectors. `pretty`: short human lines. Default
     * `auto`: pretty when stdout is a terminal, JSON otherwise.
     */
    logFormat: z.enum(['auto', 'json', 'pretty']).default('auto'),
  })
  .strict()
  .refine((c) => c.retryPeriodMs < c.renewDeadlineMs && c.renewDeadlineMs < c.leaseDurationMs, {
    message: 'need retry-period-ms < renew-deadline-ms < lease-duration-ms',
    path: ['renewDeadlineMs'],
  });

/** Validated runtime configuration. */
export type RuntimeConfig = z.infer<typeof RuntimeConfigSchema>;

const FIELDS = Object.keys(RuntimeConfigSchema.shape) as Array<keyof RuntimeConfig>;

/** `healthPort` → `health-port`. */
function flagName(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `healthPort` → `PXD_HEALTH_PORT`. */
function envName(field: string): string {
  return `PXD_${flagName(field).replaceAll('-', '_').toUpperCase()}`;
}

/** Thrown for bad flags or variables; the message lists every problem. */
export class RuntimeConfigError extends Error {
  override readonly name = 'RuntimeConfigError';
}

/** Parses `argv` (without node and script) and `env` into a validated config. */
export function loadRuntimeConfig(
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): RuntimeConfig {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(FIELDS.map((f) => [flagName(f), { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new RuntimeConfigError(
      `Invalid command line: ${(err as Error).message}. Known flags: ${FIELDS.map((f) => `--${flagName(f)}`).join(', ')}`,
    );
  }
  const raw: Record<string, string> = {};
  for (const field of FIELDS) {
    const value = values[flagName(field)] ?? env[envName(field)];
    if (value !== undefined) raw[field] = value;
  }
  const parsed = RuntimeConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? '');
    const given = field in raw ? ` (got ${JSON.stringify(raw[field])})` : '';
    return `--${flagName(field)} / ${envName(field)}: ${issue.message}${given}`;
  });
  throw new RuntimeConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}

/** The namespaces `config.namespace` names (trimmed, no empties); empty = every namespace. */
export function watchedNamespaces(config: Pick<RuntimeConfig, 'namespace'>): string[] {
  return config.namespace
    .split(',')
    .map((ns) => ns.trim())
    .filter((ns) => ns !== '');
}
