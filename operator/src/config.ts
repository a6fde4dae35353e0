/**
 * The operator's configuration: what the platform team decides once for every PixtralDeployment
 * (domain, ingress, images, GPU node types, node pools, defaults). One zod schema with a default
 * for every field, loaded from a YAML/JSON file (`OPERATOR_CONFIG_FILE`) with a few environment
 * variables on top; a bad value fails at start with a message naming the field.
 * Nested objects end in `.prefault({})`: an absent object parses as `{}`, so its fields' own
 * defaults fill it (zod 4's `.default()` would return its value unparsed, repeating them).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DNS_SUBDOMAIN, QUANTITY_PATTERN, TolerationSchema } from './api/pixtral-deployment.ts';
import { findModel, MODEL_CATALOG, NODE_TYPES, type NodeTypeName } from './catalog/index.ts';

const name = (example: string) =>
  z.string().min(1).max(253).regex(DNS_SUBDOMAIN, `must be a lower-case DNS name, e.g. ${example}`);
const quantity = z.union([
  z.int().min(0),
  z.string().regex(QUANTITY_PATTERN, 'must be a quantity, e.g. 500m or 8Gi'),
]);
const resourceList = z.record(z.string().min(1), quantity);
const resources = z.strictObject({ requests: resourceList.optional(), limits: resourceList.optional() });
/** An int or a percentage, as in a Deployment's rolling update. */
const intOrPercent = z.union([z.int().min(0), z.string().regex(/^[0-9]+%$/, 'must be an integer or "N%"')]);

/** One toleration of a serving pod (core/v1 Toleration). */
export type Toleration = z.infer<typeof TolerationSchema>;

/** The GPU taint NVIDIA's GPU operator and most clouds put on GPU nodes. */
export const GPU_TOLERATION: Toleration = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };
/** The vLLM version the defaults pin; test/vllm-flags holds its `vllm serve` option table. */
export const VLLM_VERSION = '0.33.0';
/** Default command of the vLLM container: vLLM's CLI (the api_server module is deprecated). */
export const VLLM_COMMAND = ['vllm', 'serve'];
/** The well-known label that names a node's instance type. */
export const INSTANCE_TYPE_LABEL = 'node.kubernetes.io/instance-type';

const nodeType = (instanceType: string) =>
  z
    .strictObject({
      /** Labels a node of this type carries; the serving pods select them. Default the instance-type label. */
      labels: z
        .record(z.string().min(1), z.string().max(63))
        .default({ [INSTANCE_TYPE_LABEL]: instanceType }),
      /** Tolerations of the serving pods. Default: tolerate the `nvidia.com/gpu` NoSchedule taint. */
      tolerations: z.array(TolerationSchema).default([GPU_TOLERATION]),
    })
    .prefault({});

const issuer = z.strictObject({
  kind: z.enum(['ClusterIssuer', 'Issuer']),
  name: name('letsencrypt'),
});

/** One file of a configured weights source, as the mirror's hub holds it at the pinned revision. */
const weightsSourceFile = z.strictObject({
  /** Path inside the repository, e.g. `consolidated.safetensors`. */
  path: z.string().min(1).max(255),
  /** Exact size in bytes (sizes the weights volume; the provisioner takes the hub's figure). */
  sizeBytes: z.int().min(0),
  /**
   * Lower-case hex SHA-256 of the bytes: the hub must publish the same (its LFS id) at the
   * revision, and the provisioner refuses bytes that hash otherwise. Required for every file the
   * catalog pins by SHA-256; a file the catalog keeps in plain git (params.json) may omit it, and
   * is then verified by the git blob id the hub gives at the revision, as the catalog's is.
   */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (the SHA-256 the hub gives as the LFS id)')
    .optional(),
});

/**
 * Where one catalog model's weights come from instead of the catalog's own pin: a repository on
 * the hub at `weights.hubUrl` (a private mirror serving a re-packed copy, or a test's small files),
 * pinned like the catalog pins its own. Every file the catalog lists must be listed, each file the
 * catalog pins by SHA-256 with one; the provisioner verifies every byte against these pins and the
 * hub's own ids, as it does for the catalog.
 */
const weightsSource = z.strictObject({
  /** Repository on the hub, `owner/name`. */
  repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be "owner/name"'),
  /** Full 40-hex commit id; never a branch name, so the bytes cannot change under the cache. */
  revision: z.string().regex(/^[0-9a-f]{40}$/, 'must be a full 40-hex commit id, not a branch or tag'),
  files: z.array(weightsSourceFile).min(1),
});

const modelNames = MODEL_CATALOG.map((m) => m.name);

/** Model name → weights source; each source names exactly the catalog's files, pinned as strictly. */
const weightsSources = z
  .partialRecord(z.enum(modelNames as [string, ...string[]]), weightsSource, {
    // zod reports an unknown name as unrecognized_keys, which its record issue type does not list.
    error: (issue) => {
      const { keys } = issue as { keys?: string[] };
      return keys
        ? `${keys.join(', ')} is not in the model catalog; use one of: ${modelNames.join(', ')}`
        : undefined;
    },
  })
  .superRefine((sources, ctx) => {
    for (const [name, source] of Object.entries(sources)) {
      const catalogFiles = findModel(name)?.weights.files ?? [];
      const paths = source?.files.map((f) => f.path) ?? [];
      const expected = catalogFiles.map((f) => f.path);
      if (new Set(paths).size !== paths.length || [...paths].sort().join() !== [...expected].sort().join()) {
        ctx.addIssue({
          code: 'custom',
          path: [name, 'files'],
          message: `must list each file vLLM loads for ${name} once: ${expected.join(', ')} (got ${paths.join(', ')})`,
        });
        continue;
      }
      source?.files.forEach((file, index) => {
        if (file.sha256 === undefined && catalogFiles.find((f) => f.path === file.path)?.sha256 !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [name, 'files', index, 'sha256'],
            message: `is required for ${file.path}: the catalog pins it by SHA-256, a configured source may not pin less`,
          });
      });
    }
  });

/** The validated operator configuration. Each field's doc gives its unit, default and what 0 means. */
export const OperatorConfigSchema = z.strictObject({
  /**
   * DNS suffix of public endpoints: `https://<uuid>.<baseDomain>`. No default: without it a
   * deployment asking for a public endpoint gets `InvalidConfiguration`.
   */
  baseDomain: name('inference.example.com').optional(),
  /** Cluster domain used in private endpoint URLs. Default `cluster.local`. */
  clusterDomain: name('cluster.local').default('cluster.local'),
  ingress: z
    .strictObject({
      /** `spec.ingressClassName` of public Ingresses; absent means the cluster's default class. */
      className: name('nginx').optional(),
      /**
       * TLS of public endpoints: a cert-manager issuer (a certificate per deployment, in a Secret
       * `<name>-tls`) or one wildcard certificate Secret for `*.<baseDomain>` in each namespace.
       * Absent: the Ingress has no TLS section (the controller's default certificate, if any).
       */
      tls: z
        .union([
          z.strictObject({ certManagerIssuer: issuer }),
          z.strictObject({ wildcardSecretName: name('wildcard-tls') }),
        ])
        .optional(),
      /** Extra annotations on every Ingress (e.g. an external-dns hint). Default none. */
      annotations: z.record(z.string().min(1), z.string()).default({}),
      /** Ingress read/send timeout for long generations and streams, seconds. Default 3600. */
      timeoutSeconds: z.int().min(1).default(3600),
    })
    .prefault({}),
  images: z
    .strictObject({
      /** vLLM OpenAI server image. Default `vllm/vllm-openai:v0.33.0`. */
      vllm: z.string().min(1).default(`vllm/vllm-openai:v${VLLM_VERSION}`),
      /** The runtime image: runs the limits sidecar (`sidecar`) and the weights provisioner (`provision-weights`). */
      runtime: z.string().min(1).default('ghcr.io/pixtral-operator/runtime:0.1.0'),
      /** Command of the vLLM container. Default `vllm serve`, whose parser accepts `--model` (test/vllm-flags checks every argument). */
      vllmCommand: z.array(z.string().min(1)).min(1).default(VLLM_COMMAND),
      /** imagePullPolicy of every container. Default IfNotPresent. */
      pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
      /** imagePullSecrets (Secret names in each deployment's namespace). Default none. */
      pullSecrets: z.array(name('registry-creds')).default([]),
    })
    .prefault({}),
  /** Node type → node labels and tolerations. GPUs per pod come from the model catalog (H100: 1, H100-2: 2). */
  nodeTypes: z.strictObject({ H100: nodeType('H100-1-80G'), 'H100-2': nodeType('H100-2-80G') }).prefault({}),
  nodePools: z
    .discriminatedUnion('provider', [
      /** The platform provides GPU nodes itself. */
      z.strictObject({ provider: z.literal('none') }),
      /** One Karpenter NodePool (karpenter.sh/v1) per node type in use. */
      z.strictObject({
        provider: z.literal('karpenter'),
        /** `spec.template.spec.nodeClassRef`: the provider's node class, e.g. an EC2NodeClass. */
        nodeClassRef: z.strictObject({
          group: z.string().min(1),
          kind: z.string().min(1),
          name: z.string().min(1),
        }),
        /** Most GPUs a NodePool may provision (`spec.limits["nvidia.com/gpu"]`); absent means no limit. */
        gpuLimit: z.int().min(1).optional(),
      }),
    ])
    .default({ provider: 'none' }),
  /** Default resources of each container; `spec.resources` overrides them per deployment. */
  resources: z
    .strictObject({
      vllm: resources.default({ requests: { cpu: '8', memory: '64Gi' }, limits: { memory: '96Gi' } }),
      sidecar: resources.default({ requests: { cpu: '1', memory: '512Mi' }, limits: { memory: '1Gi' } }),
    })
    .prefault({}),
  /** Size of the `/dev/shm` memory volume (vLLM's tensor-parallel workers talk through it). Default 16Gi. */
  shmSize: z.string().regex(QUANTITY_PATTERN, 'must be a quantity, e.g. 16Gi').default('16Gi'),
  /**
   * Rolling update of the serving Deployment. maxSurge defaults to 0: a surge pod asks for GPUs the
   * pool may not have, and would stay Pending while blocking the rollout. maxUnavailable default 1.
   */
  rollingUpdate: z
    .strictObject({ maxSurge: intOrPercent.default(0), maxUnavailable: intOrPercent.default(1) })
    .prefault({}),
  probes: z
    .strictObject({
      /** Startup probe period, seconds. Default 10. */
      startupPeriodSeconds: z.int().min(1).default(10),
      /** Startup probe failures allowed: with the period, the longest model load (default 10 s x 180 = 30 min). */
      startupFailureThreshold: z.int().min(1).default(180),
    })
    .prefault({}),
  weights: z
    .strictObject({
      /** StorageClass of weights caches unless `spec.weights.storageClassName` says otherwise; absent = cluster default. */
      storageClassName: name('fast-ssd').optional(),
      /**
       * Access modes of the cache. Default ReadWriteMany, so replicas on different nodes share it;
       * set ReadWriteOnce only when every replica runs on one node or the class cannot do RWX.
       */
      accessModes: z
        .array(z.enum(['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']))
        .min(1)
        .default(['ReadWriteMany']),
      /** Hugging Face-compatible hub base URL (mirrors). Default https://huggingface.co. */
      hubUrl: z.url({ protocol: /^https?$/ }).default('https://huggingface.co'),
      /**
       * Per catalog model name, the repository, revision and pinned files the provisioner fetches
       * from `hubUrl` instead of the catalog's (a private mirror serving a re-packed copy; tests).
       * The weights volume is sized from these files. Default none: the catalog's pin.
       */
      sources: weightsSources.default({}),
      /** Secret (in each deployment's namespace) holding the hub token for gated models; absent = anonymous. */
      hubTokenSecretName: name('hf-token').optional(),
      /** Data key of the token in that Secret. Default `token`. */
      hubTokenSecretKey: z.string().min(1).default('token'),
      /** Longest a weights Job may run, seconds. Default 7200. */
      jobActiveDeadlineSeconds: z.int().min(60).default(7200),
      /** Pod retries inside one Job; the operator does the slow retries with backoff. Default 1; 0 = none. */
      jobBackoffLimit: z.int().min(0).max(10).default(1),
      /** First delay before a failed weights Job is retried, seconds; doubles per failure up to 600. Default 30. */
      retryBaseSeconds: z.int().min(1).max(600).default(30),
      /** Extra labels on the weights Job's pods (e.g. for network or admission policies). Default none. */
      podLabels: z.record(z.string().min(1).max(316), z.string().max(63)).default({}),
    })
    .prefault({}),
  autoscaling: z
    .strictObject({
      /** Prometheus server KEDA queries, e.g. `http://prometheus.monitoring.svc:9090`. */
      prometheusServerAddress: z.url().default('http://prometheus-operated.monitoring.svc:9090'),
      /**
       * PromQL of the queue depth per deployment; `{namespace}` and `{deployment}` (the Deployment's
       * name) are replaced. Default: requests waiting in the sidecars plus those queued in vLLM.
       */
      query: z
        .string()
        .min(1)
        .default(
          'sum(sidecar_queue_length{namespace="{namespace}",pod=~"{deployment}-.*"}) + sum(vllm:num_requests_waiting{namespace="{namespace}",pod=~"{deployment}-.*"})',
        ),
      /** Target queue depth per replica (KEDA's `threshold`). Default 4. */
      threshold: z.number().positive().default(4),
      /** KEDA pollingInterval, seconds. Default 15. */
      pollingIntervalSeconds: z.int().min(1).default(15),
      /** KEDA cooldownPeriod, seconds (only used when scaling to zero). Default 300. */
      cooldownPeriodSeconds: z.int().min(0).default(300),
    })
    .prefault({}),
  sidecar: z
    .strictObject({
      /**
       * Largest request body, bytes: given to the sidecar (MAX_BODY_BYTES) and to the Ingress body
       * limit. Default 64 MiB: 12 images of 4 MiB, base64 (x4/3), plus the text, with room to spare.
       */
      maxBodyBytes: z
        .int()
        .min(1024)
        .default(64 * 1024 * 1024),
      /**
       * Top-level chat request fields the sidecars forward besides their built-in allow-list
       * (OpenAI's fields and vLLM's sampling extras), for platform teams whose clients need a
       * vLLM-only field (EXTRA_REQUEST_FIELDS). Any other unknown field is refused with a 400.
       * Default none.
       */
      extraRequestFields: z
        .array(z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'must be a field name'))
        .default([]),
    })
    .prefault({}),
  /** Field manager of every server-side apply. Default `pixtral-operator`. */
  fieldManager: z.string().min(1).max(128).default('pixtral-operator'),
});

/** The operator configuration after defaults. */
export type OperatorConfig = z.output<typeof OperatorConfigSchema>;
/** The configuration as written in the file (every field optional). */
export type OperatorConfigInput = z.input<typeof OperatorConfigSchema>;
/** Settings of one node type. */
export type NodeTypeConfig = OperatorConfig['nodeTypes'][NodeTypeName];

// NODE_TYPES is the catalog's list; the schema above must name each one.
void (NODE_TYPES satisfies readonly (keyof OperatorConfig['nodeTypes'])[]);

/** Environment variables that override one field of the file (dotted path). */
export const CONFIG_ENV: Readonly<Record<string, string>> = {
  PXD_BASE_DOMAIN: 'baseDomain',
  PXD_INGRESS_CLASS_NAME: 'ingress.className',
  PXD_VLLM_IMAGE: 'images.vllm',
  PXD_RUNTIME_IMAGE: 'images.runtime',
  PXD_WEIGHTS_STORAGE_CLASS: 'weights.storageClassName',
  PXD_HUB_URL: 'weights.hubUrl',
  PXD_HUB_TOKEN_SECRET_NAME: 'weights.hubTokenSecretName',
  PXD_PROMETHEUS_SERVER_ADDRESS: 'autoscaling.prometheusServerAddress',
};

/** A configuration that failed to load or validate; the message names every bad field. */
export class OperatorConfigError extends Error {
  override readonly name = 'OperatorConfigError';
}

/** Validates a configuration object; throws OperatorConfigError naming each bad field and its source. */
export function parseOperatorConfig(input: unknown, origin = 'the operator configuration'): OperatorConfig {
  const parsed = OperatorConfigSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.join('.') || '(root)';
    const env = Object.entries(CONFIG_ENV).find(([, field]) => field === path)?.[0];
    return `${path}${env ? ` (or ${env})` : ''}: ${issue.message}`;
  });
  throw new OperatorConfigError(`Invalid ${origin}:\n  ${problems.join('\n  ')}`);
}

function setPath(target: Record<string, unknown>, path: string, value: string): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

/**
 * Loads the configuration: the YAML or JSON file named by `OPERATOR_CONFIG_FILE` (absent = all
 * defaults), then the `CONFIG_ENV` variables on top (unset or empty = keep the file's value).
 * Throws OperatorConfigError when the file cannot be read or parsed, or a field is invalid.
 */
export function loadOperatorConfig(
  env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): OperatorConfig {
  const file = env.OPERATOR_CONFIG_FILE;
  let raw: unknown = {};
  if (file) {
    let text: string;
    try {
      text = readFile(file);
    } catch (error) {
      throw new OperatorConfigError(`Cannot read OPERATOR_CONFIG_FILE ${file}: ${(error as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (error) {
      throw new OperatorConfigError(
        `OPERATOR_CONFIG_FILE ${file} is not YAML or JSON: ${(error as Error).message}`,
      );
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new OperatorConfigError(`OPERATOR_CONFIG_FILE ${file} must hold a mapping of fields`);
    }
  }
  const merged = structuredClone(raw) as Record<string, unknown>;
  for (const [variable, path] of Object.entries(CONFIG_ENV)) {
    const value = env[variable];
    if (value !== undefined && value !== '') setPath(merged, path, value);
  }
  return parseOperatorConfig(
    merged,
    file ? `operator configuration (${file} and env)` : 'operator configuration (env)',
  );
}

/** The defaults alone: what tests and local runs start from. */
export function defaultOperatorConfig(overrides: OperatorConfigInput = {}): OperatorConfig {
  return parseOperatorConfig(overrides);
}
