import { z } from 'zod';
import { catalogLimits, NODE_TYPES } from '../catalog/index.ts';
import { ConditionSchema } from './conditions.ts';
import { checkModel, checkSpec, modelRules, specRules, statusRules } from './rules.ts';
import { PATTERN_MESSAGE } from './structural.ts';

/**
 * PixtralDeployment, written once. This zod schema is the single source of the TypeScript types
 * (`z.infer`) and of the CRD's OpenAPI v3 schema (`crd.ts`). Every object is strict: the API
 * server prunes unknown fields (and refuses them with `fieldValidation=Strict`, kubectl's
 * default), and zod refuses them too.
 */

/** API group of PixtralDeployment. */
export const GROUP = 'inference.pixtral.dev';
/** The only served version. */
export const VERSION = 'v1alpha1';
/** `apiVersion` as written in manifests. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Kind. */
export const KIND = 'PixtralDeployment';
/** Resource name (plural) in URLs. */
export const PLURAL = 'pixtraldeployments';
/** Singular resource name. */
export const SINGULAR = 'pixtraldeployment';
/** `kubectl get pxd`. */
export const SHORT_NAMES = ['pxd'];
/** `kubectl get pixtral` lists every kind of the project. */
export const CATEGORIES = ['pixtral'];

/** Kubernetes resource.Quantity string (as in k8s.io/apimachinery's OpenAPI). */
export const QUANTITY_PATTERN =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
/** RFC 1123 subdomain (Secret, PriorityClass, StorageClass names). */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A qualified name (label and annotation keys): optional DNS prefix, then a name of 63 at most. */
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** Labels the operator sets on every child; user labels may not override them (selectors rely on them). */
export const RESERVED_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/managed-by',
];
const RESERVED_LABELS_MESSAGE = `spec.pod.labels may not set ${RESERVED_LABELS.join(', ')}: the operator owns them; remove them`;

const { maxContextLength, maxImagesPerRequest } = catalogLimits();

/** `.regex()` whose message the CRD also carries (as a CEL rule), instead of printing the regex. */
const matching = (schema: z.ZodString, pattern: RegExp, message: string) =>
  schema.regex(pattern, message).meta({ [PATTERN_MESSAGE]: message });

const dnsSubdomain = (example: string) =>
  matching(
    z.string().min(1).max(253),
    DNS_SUBDOMAIN,
    `must be a lower-case DNS subdomain (a-z, 0-9, "-" and "."; start and end with a letter or digit), e.g. ${example}`,
  );

/** A quantity that YAML may give as a number (`cpu: 2`) or a string (`memory: 8Gi`). */
const quantity = z.union([
  z.int().min(0),
  z.string().regex(QUANTITY_PATTERN, 'must be a quantity, e.g. 500m or 8Gi'),
]);

const resourceList = z.record(z.string().min(1).max(253), quantity).meta({ maxProperties: 16 });

/** requests/limits of one container, as in core/v1 ResourceRequirements. */
const resourceRequirements = z.strictObject({
  requests: resourceList.optional(),
  limits: resourceList.optional(),
});

const labelMap = z
  .record(
    z.string().regex(QUALIFIED_NAME, 'label keys must be qualified names, e.g. team or example.com/team'),
    matching(
      z.string().max(63),
      LABEL_VALUE,
      'must be a label value: letters, digits, "-", "_" and "."; start and end with a letter or digit',
    ),
  )
  .meta({ maxProperties: 64 });

const endpoint = z.strictObject({
  disableAuth: z
    .boolean()
    .default(false)
    .describe('Serve this endpoint without API keys. Anyone who reaches it can use the model.'),
});

/** core/v1 Toleration (the fields a user or the platform sets). */
export const TolerationSchema = z.strictObject({
  key: z.string().max(316).optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().max(63).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.int().optional(),
});

/** `spec`: what the user asks for. */
export const PixtralDeploymentSpecSchema = z
  .strictObject({
    model: z
      .string()
      .min(1)
      .max(253)
      .meta({ 'x-kubernetes-validations': modelRules() })
      .describe('Catalog name of the model, exactly as clients send it, e.g. mistral/pixtral-12b-2409:bf16.'),
    nodeType: z
      .enum(NODE_TYPES as [string, ...string[]])
      .describe('GPU node type: H100 (1 GPU) or H100-2 (2 GPUs, tensor parallel 2).'),
    minSize: z
      .int()
      .min(0)
      .max(1000)
      .default(1)
      .describe('Replicas (GPU nodes) kept warm. 0 scales to zero.'),
    maxSize: z
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('Most replicas; >= minSize. Above minSize enables autoscaling. Absent means minSize.'),
    maxContextLength: z
      .int()
      .min(1024)
      .max(maxContextLength)
      .optional()
      .describe("Largest prompt plus completion, in tokens. Absent means the model's catalog limit."),
    maxImagesPerRequest: z
      .int()
      .min(0)
      .max(maxImagesPerRequest)
      .optional()
      .describe("Most images in one request; the next one is refused with 413. Absent means the catalog's."),
    endpoints: z
      .strictObject({
        public: endpoint.optional().describe('Ingress at https://<status.uuid>.<baseDomain>, with TLS.'),
        private: endpoint.optional().describe('ClusterIP Service inside the cluster.'),
      })
      .meta({
        'x-kubernetes-validations': [
          {
            rule: 'has(self.public) || has(self.private)',
            message:
              'spec.endpoints enables nothing; set spec.endpoints.public or spec.endpoints.private (or both)',
          },
        ],
      })
      .default({ private: { disableAuth: false } })
      .describe('Where the model is served. Default: a private endpoint only.'),
    apiKeys: z
      .strictObject({
        secretName: dnsSubdomain('vision-keys').describe(
          'Secret with the API keys, one per data key. Generated by the operator when it does not exist.',
        ),
      })
      .optional()
      .describe('API keys. Absent: the operator generates a Secret named <name>-api-keys.'),
    weights: z
      .strictObject({
        storageClassName: dnsSubdomain('fast-ssd').optional().describe('Absent: the default class.'),
        size: matching(z.string().max(32), QUANTITY_PATTERN, 'must be a quantity such as 30Gi or 1Ti')
          .optional()
          .describe("Weights cache volume size. Absent: the catalog's size for the model."),
      })
      .optional()
      .describe('The shared weights cache (a PVC per model and revision in this namespace).'),
    pod: z
      .strictObject({
        labels: labelMap
          .optional()
          .meta({
            'x-kubernetes-validations': [
              {
                rule: RESERVED_LABELS.map((l) => `!('${l}' in self)`).join(' && '),
                message: RESERVED_LABELS_MESSAGE,
              },
            ],
          })
          .describe('Extra labels on the serving pods.'),
        annotations: z
          .record(
            z.string().regex(QUALIFIED_NAME, 'annotation keys must be qualified names'),
            z.string().max(4096),
          )
          .meta({ maxProperties: 64 })
          .optional()
          .describe('Extra annotations on the serving pods.'),
        priorityClassName: dnsSubdomain('inference-high').optional(),
        nodeSelector: labelMap.optional().describe('Added to the node type selector.'),
        tolerations: z
          .array(TolerationSchema)
          .max(32)
          .optional()
          .describe('Added to the node type tolerations.'),
      })
      .optional()
      .describe('Extra settings for the serving pods.'),
    resources: z
      .strictObject({
        vllm: resourceRequirements
          .meta({
            'x-kubernetes-validations': [
              {
                rule: "!has(self.requests) || !('nvidia.com/gpu' in self.requests)",
                message:
                  'spec.resources.vllm.requests may not set nvidia.com/gpu: spec.nodeType decides the GPUs',
              },
              {
                rule: "!has(self.limits) || !('nvidia.com/gpu' in self.limits)",
                message:
                  'spec.resources.vllm.limits may not set nvidia.com/gpu: spec.nodeType decides the GPUs',
              },
            ],
          })
          .optional()
          .describe('CPU and memory of the vLLM container; GPUs come from spec.nodeType.'),
        sidecar: resourceRequirements.optional().describe('CPU and memory of the limits sidecar.'),
      })
      .optional()
      .describe('Resource overrides; absent values use the operator defaults.'),
  })
  .superRefine((spec, ctx) => {
    for (const v of [checkModel(spec.model), ...checkSpec(spec)]) {
      if (v) ctx.addIssue({ code: 'custom', path: v.path, message: v.message });
    }
    if (!spec.endpoints.public && !spec.endpoints.private) {
      ctx.addIssue({
        code: 'custom',
        path: ['endpoints'],
        message:
          'spec.endpoints enables nothing; set spec.endpoints.public or spec.endpoints.private (or both)',
      });
    }
    if (RESERVED_LABELS.some((l) => spec.pod?.labels?.[l] !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['pod', 'labels'], message: RESERVED_LABELS_MESSAGE });
    }
    for (const kind of ['requests', 'limits'] as const) {
      if (spec.resources?.vllm?.[kind]?.['nvidia.com/gpu'] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', 'vllm', kind, 'nvidia.com/gpu'],
          message: `spec.resources.vllm.${kind} may not set nvidia.com/gpu: spec.nodeType decides the GPUs`,
        });
      }
    }
  })
  .meta({ 'x-kubernetes-validations': specRules() })
  .describe('What to deploy: a model from the catalog on a GPU node type, its size, limits and endpoints.');

/** `status.phase` values, in lifecycle order. */
export const PHASES = ['Creating', 'ProvisioningWeights', 'Deploying', 'Ready', 'Error', 'Deleting'] as const;
/** One lifecycle phase. */
export type Phase = (typeof PHASES)[number];

/** `status`: what the operator observed. Written only by the operator, through the status subresource. */
export const PixtralDeploymentStatusSchema = z
  .strictObject({
    uuid: z.uuid().optional().describe('Generated once; names the public endpoint host. Never changes.'),
    phase: z.enum(PHASES).optional(),
    endpoints: z
      .strictObject({
        public: z.string().max(2048).optional().describe('https://<uuid>.<baseDomain>/v1'),
        private: z.string().max(2048).optional().describe('In-cluster URL of the private endpoint.'),
      })
      .optional(),
    endpoint: z
      .string()
      .max(2048)
      .optional()
      .describe('The URL clients use: endpoints.public when there is one, else endpoints.private.'),
    readyReplicas: z.int().min(0).optional(),
    observedGeneration: z.int().min(0).meta({ format: 'int64' }).optional(),
    conditions: z
      .array(ConditionSchema)
      .max(32)
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
      .optional(),
    weights: z
      .strictObject({
        revision: z.string().max(64).optional().describe('Hugging Face commit of the weights in use.'),
        digest: z
          .string()
          .regex(/^sha256:[0-9a-f]{64}$/)
          .optional()
          .describe('sha256 over the verified file hashes of the weights in use.'),
        attempts: z.int().min(0).optional().describe('Failed provisioning attempts since the last success.'),
        lastFailureTime: z.iso.datetime().optional().describe('When provisioning last failed, for backoff.'),
      })
      .optional(),
  })
  .meta({ 'x-kubernetes-validations': statusRules() });

/** The whole resource, for validating manifests in TypeScript (the API server checks metadata itself). */
export const PixtralDeploymentSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.looseObject({
    name: z.string().min(1).max(253).regex(DNS_SUBDOMAIN).optional(),
    namespace: z.string().optional(),
  }),
  spec: PixtralDeploymentSpecSchema,
  status: PixtralDeploymentStatusSchema.optional(),
});

/** A PixtralDeployment after defaults (what the API server stores). */
export type PixtralDeployment = z.output<typeof PixtralDeploymentSchema>;
/** A PixtralDeployment as a user may write it (defaults not yet applied). */
export type PixtralDeploymentInput = z.input<typeof PixtralDeploymentSchema>;
/** `spec` after defaults. */
export type PixtralDeploymentSpec = z.output<typeof PixtralDeploymentSpecSchema>;
/** `status`. */
export type PixtralDeploymentStatus = z.output<typeof PixtralDeploymentStatusSchema>;
