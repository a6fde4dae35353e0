/**
 * The sidecar's configuration and limits, declared in one place. Every value
 * has an environment variable, a unit and a default; `loadConfig` validates them all with zod
 * and names the variable in the error, so a bad Deployment fails at start with a clear message.
 */
import { z } from 'zod';

/** The catalog name clients send as `model`, and the only one the sidecar serves. */
export const CATALOG_MODEL_NAME = 'mistral/pixtral-12b-2409:bf16';

const port = z.number().int().min(0).max(65_535);
const ms = z.number().int().min(1);

/** The validated sidecar configuration. Field docs give the env var, unit and default. */
export const SidecarConfigSchema = z
  .object({
    /** SIDECAR_HOST: address to listen on. Default `0.0.0.0`. */
    host: z.string().min(1).default('0.0.0.0'),
    /** SIDECAR_PORT: TCP port to listen on; 0 picks a free port (tests). Default 8080. */
    port: port.default(8080),
    /**
     * SIDECAR_NOAUTH_PORT: a second TCP port serving the same routes without API keys, for a
     * deployment whose private endpoint is open while its public one needs keys (the operator
     * sets 8081, `http-noauth`). DISABLE_AUTH applies to SIDECAR_PORT only. Must differ from
     * SIDECAR_PORT; 0 picks a free port (tests). Default unset: no second listener.
     */
    noauthPort: port.optional(),
    /** UPSTREAM_URL: vLLM's OpenAI server, on the pod's loopback. Default `http://127.0.0.1:8000`. */
    upstreamUrl: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8000'),
    /** UPSTREAM_API_KEY: bearer key sent to vLLM (its `--api-key`), never the client's. Default none. */
    upstreamApiKey: z.string().min(1).optional(),
    /** SERVED_MODEL_NAME: the `model` value clients must send. Default the catalog name. */
    servedModelName: z.string().min(1).default(CATALOG_MODEL_NAME),
    /** API_KEY_HASHES_FILE: file of SHA-256 key hashes, one per line, optionally `id:hash`. Required unless auth is off. */
    apiKeyHashesFile: z.string().min(1).optional(),
    /** DISABLE_AUTH: `true` serves without keys (an endpoint with `disableAuth`). Default false. */
    disableAuth: z.boolean().default(false),
    /** KEY_RELOAD_INTERVAL_MS: how often the key file is re-read besides watching its folder, in ms. Default 10000. */
    keyReloadIntervalMs: ms.default(10_000),
    /** MAX_IMAGES_PER_REQUEST: images allowed in one request, across all messages (0..12); 0 serves text only (any image is a 413). Default 12. */
    maxImagesPerRequest: z.number().int().min(0).max(12).default(12),
    /** MAX_CONTEXT_LENGTH: prompt plus output tokens allowed (the catalog's 128k at most). Default 131072. */
    maxContextLength: z.number().int().min(1).max(131_072).default(131_072),
    /** WEIGHTS_DIR: where the model files (tekken.json, params.json) are mounted. Default `/weights`. */
    weightsDir: z.string().min(1).default('/weights'),
    /** MAX_BODY_BYTES: largest request body in bytes, enforced while reading (413 past it). Default 64 MiB, room for 12 base64 images. */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024),
    /** MAX_JSON_DEPTH: deepest nesting of arrays and objects in a request body (400 past it). Default 64. */
    maxJsonDepth: z.number().int().min(8).max(1_000).default(64),
    /**
     * MAX_JSON_VALUES: most JSON values and keys in a request body, counted on the raw bytes
     * before parsing (400 past it); with the depth it bounds what a parsed body can cost beyond
     * its size. Default 100000.
     */
    maxJsonValues: z.number().int().min(1_000).default(100_000),
    /**
     * MEMORY_LIMIT_BYTES: the container's memory limit, in bytes. Default: read from the cgroup
     * (v2 `memory.max`, v1 `memory.limit_in_bytes`); none outside a container.
     */
    memoryLimitBytes: z
      .number()
      .int()
      .min(64 * 1024 * 1024)
      .optional(),
    /**
     * REQUEST_MEMORY_BYTES: bytes that requests in flight may cost together (bodies, decoded
     * images, the body sent upstream), admitted before the work; past it a request gets 503 with
     * Retry-After. Default: derived from the memory limit and the V8 heap limit (memory-budget.ts).
     */
    requestMemoryBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .optional(),
    /**
     * EXTRA_REQUEST_FIELDS: comma-separated top-level request fields to forward to vLLM besides the
     * built-in allow-list (schema.ts); any other unknown field is a 400 naming it. Default none.
     */
    extraRequestFields: z.array(z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'must be field names')).default([]),
    /** HEADERS_TIMEOUT_MS: time a client has to send all request headers, in ms (Slowloris). Default 10000. */
    headersTimeoutMs: ms.default(10_000),
    /** REQUEST_TIMEOUT_MS: time a client has to send the whole request, body included, in ms; sized for a full body (MAX_BODY_BYTES) on a slow link. Default 120000. */
    requestTimeoutMs: ms.default(120_000),
    /** IDLE_TIMEOUT_MS: a socket with no traffic either way for this long is closed, in ms. Default 300000. */
    idleTimeoutMs: ms.default(300_000),
    /** KEEP_ALIVE_TIMEOUT_MS: idle keep-alive time; must outlast the load balancer's idle timeout (often 60 s). Default 75000. */
    keepAliveTimeoutMs: ms.default(75_000),
    /** MAX_CONCURRENT_UPSTREAM: requests in flight to vLLM at once. Default 64. */
    maxConcurrentUpstream: z.number().int().min(1).default(64),
    /** MAX_QUEUE: requests waiting for an upstream slot; past it the answer is 429. 0 means no queue. Default 256. */
    maxQueue: z.number().int().min(0).default(256),
    /** QUEUE_TIMEOUT_MS: longest wait for an upstream slot before 429, in ms. Default 30000. */
    queueTimeoutMs: ms.default(30_000),
    /** RETRY_AFTER_SECONDS: the Retry-After sent with 429 and 503, in seconds. Default 1. */
    retryAfterSeconds: z.number().int().min(1).default(1),
    /** UPSTREAM_CONNECT_TIMEOUT_MS: time to open a connection to vLLM, in ms. Default 2000. */
    upstreamConnectTimeoutMs: ms.default(2_000),
    /** UPSTREAM_HEADERS_TIMEOUT_MS: time for vLLM's response headers, in ms; a non-stream answer sends them only when done, so this bounds a whole generation (504 past it). Default 600000. */
    upstreamHeadersTimeoutMs: ms.default(600_000),
    /** UPSTREAM_IDLE_TIMEOUT_MS: longest silence between two body chunks from vLLM, in ms. Default 120000. */
    upstreamIdleTimeoutMs: ms.default(120_000),
    /** HEALTH_CACHE_MS: how long one upstream health answer is reused, in ms, so probes do not pile onto vLLM. Default 1000. */
    healthCacheMs: z.number().int().min(0).default(1_000),
    /** SHUTDOWN_GRACE_MS: on SIGTERM, time in-flight requests get to finish before they are cut, in ms. Default 25000. */
    shutdownGraceMs: z.number().int().min(0).default(25_000),
    /** SHUTDOWN_DELAY_MS: on SIGTERM, time to keep serving (with /health failing) so Kubernetes removes the pod from its endpoints before the listener closes, in ms; counts within the grace period. Default 5000. */
    shutdownDelayMs: z.number().int().min(0).default(5_000),
    /** LOG_LEVEL: pino level. Default `info`. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((c) => c.disableAuth || c.apiKeyHashesFile !== undefined, {
    message: 'API_KEY_HASHES_FILE is required unless DISABLE_AUTH=true',
    path: ['apiKeyHashesFile'],
  })
  .refine((c) => c.noauthPort === undefined || c.noauthPort === 0 || c.noauthPort !== c.port, {
    // Two listeners on one port cannot both bind; say so before trying.
    error: (issue) => {
      const c = issue.input as { port: number };
      return `SIDECAR_NOAUTH_PORT must differ from SIDECAR_PORT (both are ${c.port})`;
    },
    path: ['noauthPort'],
  })
  .refine((c) => c.headersTimeoutMs <= c.requestTimeoutMs, {
    // Node refuses headersTimeout > requestTimeout at construction.
    message: 'HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS',
    path: ['headersTimeoutMs'],
  });

/** The sidecar configuration after validation. */
export type SidecarConfig = z.infer<typeof SidecarConfigSchema>;
/** What callers (tests, main) may pass; every field with a default is optional. */
export type SidecarConfigInput = z.input<typeof SidecarConfigSchema>;

type Kind = 'string' | 'int' | 'bool' | 'list';
const ENV: Record<string, [keyof SidecarConfig, Kind]> = {
  SIDECAR_HOST: ['host', 'string'],
  SIDECAR_PORT: ['port', 'int'],
  SIDECAR_NOAUTH_PORT: ['noauthPort', 'int'],
  UPSTREAM_URL: ['upstreamUrl', 'string'],
  UPSTREAM_API_KEY: ['upstreamApiKey', 'string'],
  SERVED_MODEL_NAME: ['servedModelName', 'string'],
  API_KEY_HASHES_FILE: ['apiKeyHashesFile', 'string'],
  DISABLE_AUTH: ['disableAuth', 'bool'],
  KEY_RELOAD_INTERVAL_MS: ['keyReloadIntervalMs', 'int'],
  MAX_IMAGES_PER_REQUEST: ['maxImagesPerRequest', 'int'],
  MAX_CONTEXT_LENGTH: ['maxContextLength', 'int'],
  WEIGHTS_DIR: ['weightsDir', 'string'],
  MAX_BODY_BYTES: ['maxBodyBytes', 'int'],
  MAX_JSON_DEPTH: ['maxJsonDepth', 'int'],
  MAX_JSON_VALUES: ['maxJsonValues', 'int'],
  MEMORY_LIMIT_BYTES: ['memoryLimitBytes', 'int'],
  REQUEST_MEMORY_BYTES: ['requestMemoryBytes', 'int'],
  EXTRA_REQUEST_FIELDS: ['extraRequestFields', 'list'],
  HEADERS_TIMEOUT_MS: ['headersTimeoutMs', 'int'],
  REQUEST_TIMEOUT_MS: ['requestTimeoutMs', 'int'],
  IDLE_TIMEOUT_MS: ['idleTimeoutMs', 'int'],
  KEEP_ALIVE_TIMEOUT_MS: ['keepAliveTimeoutMs', 'int'],
  MAX_CONCURRENT_UPSTREAM: ['maxConcurrentUpstream', 'int'],
  MAX_QUEUE: ['maxQueue', 'int'],
  QUEUE_TIMEOUT_MS: ['queueTimeoutMs', 'int'],
  RETRY_AFTER_SECONDS: ['retryAfterSeconds', 'int'],
  UPSTREAM_CONNECT_TIMEOUT_MS: ['upstreamConnectTimeoutMs', 'int'],
  UPSTREAM_HEADERS_TIMEOUT_MS: ['upstreamHeadersTimeoutMs', 'int'],
  UPSTREAM_IDLE_TIMEOUT_MS: ['upstreamIdleTimeoutMs', 'int'],
  HEALTH_CACHE_MS: ['healthCacheMs', 'int'],
  SHUTDOWN_GRACE_MS: ['shutdownGraceMs', 'int'],
  SHUTDOWN_DELAY_MS: ['shutdownDelayMs', 'int'],
  LOG_LEVEL: ['logLevel', 'string'],
};

/** A configuration that failed validation; the message lists every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function envValue(name: string, raw: string, kind: Kind): unknown {
  if (kind === 'string') return raw;
  if (kind === 'list')
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  if (kind === 'bool') {
    if (/^(true|1|yes)$/i.test(raw)) return true;
    if (/^(false|0|no)$/i.test(raw)) return false;
    throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  }
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  return Number(raw.trim());
}

/** Validates a configuration object (tests pass one directly). Throws ConfigError. */
export function parseConfig(input: SidecarConfigInput): SidecarConfig {
  const result = SidecarConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const fieldToEnv = new Map(Object.entries(ENV).map(([env, [field]]) => [field as string, env]));
  const lines = result.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? '');
    return `${fieldToEnv.get(field) ?? field}: ${issue.message}`;
  });
  throw new ConfigError(`Invalid sidecar configuration: ${lines.join('; ')}`);
}

/** Reads the configuration from environment variables (unset or empty means the default). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SidecarConfig {
  const input: Record<string, unknown> = {};
  for (const [name, [field, kind]] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') input[field] = envValue(name, raw, kind);
  }
  return parseConfig(input as SidecarConfigInput);
}
