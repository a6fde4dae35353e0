/**
 * The serving Deployment: vLLM on the pod's loopback plus the limits sidecar in front of it, on
 * the GPU nodes of the CR's node type, reading the shared weights cache read-only.
 */
import type { V1Container, V1Deployment, V1PodSpec, V1Probe } from '@kubernetes/client-node';
import { vllmArgs } from '../catalog/index.ts';
import { shortHash } from './hash.ts';
import { childMetadata, selectorLabels, sortedRecord, standardLabels } from './labels.ts';
import { catalogModel } from './model.ts';
import { apiKeyHashesSecretName, weightsPvcName, workloadName } from './names.ts';
import { GPU_RESOURCE, placement } from './placement.ts';
import { HTTP_PORT, NOAUTH_PORT, portPlan, VLLM_PORT } from './ports.ts';
import { mergeResources, normalizeQuantity, quantityValue } from './quantity.ts';
import { RESTRICTED_CONTAINER, restrictedPodSecurity } from './security.ts';
import type { BuildInput } from './types.ts';

/** Where the weights cache is mounted, read-only, in both containers. */
export const WEIGHTS_DIR = '/weights';
/** Folder of the key-hashes Secret in the sidecar (a folder mount, so rotations propagate). */
export const API_KEY_HASHES_DIR = '/etc/pixtral/api-key-hashes';
/** The data key (file name) of the key hashes in their Secret. */
export const API_KEY_HASHES_FILE = 'hashes';
/** Pod-template annotation holding a hash of what rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'pixtral.dev/config-hash';
/** Command of the sidecar in the runtime image. */
export const SIDECAR_COMMAND = ['sidecar'];
/** vLLM's HOME: an emptyDir, since the image's own home belongs to root. */
export const VLLM_HOME = '/home/vllm';

/** `spec.maxSize`, or `minSize` when absent. */
export function maxReplicas(input: BuildInput): number {
  return input.cr.spec.maxSize ?? input.cr.spec.minSize;
}

/** Whether an autoscaler owns `spec.replicas` (maxSize > minSize). */
export function autoscaled(input: BuildInput): boolean {
  return maxReplicas(input) > input.cr.spec.minSize;
}

/**
 * An exec probe against vLLM's /health on 127.0.0.1: vLLM listens on loopback only, and a kubelet
 * httpGet probe would dial the pod IP. Python is in every vLLM image (curl is not).
 */
function vllmHealthProbe(periodSeconds: number, failureThreshold: number): V1Probe {
  return {
    exec: {
      command: [
        'python3',
        '-c',
        `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${VLLM_PORT}/health', timeout=5)`,
      ],
    },
    periodSeconds,
    timeoutSeconds: 10,
    failureThreshold,
  };
}

const env = (vars: Record<string, string>) =>
  Object.entries(sortedRecord(vars)).map(([name, value]) => ({ name, value }));

function vllmContainer(input: BuildInput): V1Container {
  const { cr, config } = input;
  const model = catalogModel(cr, config);
  const place = placement(cr, config);
  return {
    name: 'vllm',
    image: config.images.vllm,
    imagePullPolicy: config.images.pullPolicy,
    command: [...config.images.vllmCommand],
    args: vllmArgs({
      model,
      nodeType: place.nodeType,
      modelDir: WEIGHTS_DIR,
      maxContextLength: cr.spec.maxContextLength ?? model.maxContextLength,
      maxImagesPerRequest: cr.spec.maxImagesPerRequest ?? model.maxImagesPerRequest,
      port: VLLM_PORT,
    }),
    env: env({
      DO_NOT_TRACK: '1',
      // The pod runs as a non-root user the image does not know: caches (torch, triton, vLLM) go
      // under a writable home instead of /root.
      HOME: VLLM_HOME,
      // The weights are local; vLLM must never reach the hub from a serving pod.
      HF_HUB_OFFLINE: '1',
      // The sidecar turns every image into a data: URL; vLLM never fetches (docs/architecture.md).
      VLLM_MEDIA_URL_ALLOW_REDIRECTS: '0',
      VLLM_NO_USAGE_STATS: '1',
    }),
    // GPU requests must equal limits; both written out so the applied object is what the server stores.
    resources: mergeResources(config.resources.vllm, cr.spec.resources?.vllm, {
      requests: { [GPU_RESOURCE]: place.gpus },
      limits: { [GPU_RESOURCE]: place.gpus },
    }),
    startupProbe: vllmHealthProbe(config.probes.startupPeriodSeconds, config.probes.startupFailureThreshold),
    livenessProbe: vllmHealthProbe(30, 3),
    securityContext: RESTRICTED_CONTAINER,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'vllm-home', mountPath: VLLM_HOME },
      { name: 'weights', mountPath: WEIGHTS_DIR, readOnly: true },
    ],
  };
}

/**
 * The sidecar's V8 heap: three quarters of its memory limit. Under a cgroup limit V8 alone takes
 * a quarter, too little for one request with 12 large images (their strings live on the heap);
 * the sidecar's memory budget keeps requests within the rest. `--expose-gc` lets the sidecar
 * collect once after loading its tokenizer (main.ts), which lowers its idle RSS.
 */
export function sidecarNodeOptions(memoryLimit: string | undefined): string | undefined {
  if (memoryLimit === undefined) return undefined;
  const mib = Math.floor((quantityValue(memoryLimit) * 0.75) / 2 ** 20);
  return mib >= 64 ? `--max-old-space-size=${mib} --expose-gc` : undefined;
}

function sidecarContainer(input: BuildInput): V1Container {
  const { cr, config } = input;
  const model = catalogModel(cr, config);
  const ports = portPlan(cr);
  const resources = mergeResources(config.resources.sidecar, cr.spec.resources?.sidecar);
  const nodeOptions = sidecarNodeOptions(resources.limits?.memory);
  return {
    name: 'sidecar',
    image: config.images.runtime,
    imagePullPolicy: config.images.pullPolicy,
    command: [...SIDECAR_COMMAND],
    env: env({
      API_KEY_HASHES_FILE: `${API_KEY_HASHES_DIR}/${API_KEY_HASHES_FILE}`,
      DISABLE_AUTH: String(ports.disableAuth),
      ...(config.sidecar.extraRequestFields.length > 0
        ? { EXTRA_REQUEST_FIELDS: config.sidecar.extraRequestFields.join(',') }
        : {}),
      MAX_BODY_BYTES: String(config.sidecar.maxBodyBytes),
      MAX_CONTEXT_LENGTH: String(cr.spec.maxContextLength ?? model.maxContextLength),
      MAX_IMAGES_PER_REQUEST: String(cr.spec.maxImagesPerRequest ?? model.maxImagesPerRequest),
      // glibc's malloc: large buffers (request bodies, the tokenizer file) go straight back to
      // the system when freed instead of staying in the RSS, and two arenas are enough for one
      // JavaScript thread plus libuv's pool (about 12 MB less idle RSS, bench/sidecar-memory.ts).
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '131072',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      SERVED_MODEL_NAME: model.name,
      SIDECAR_PORT: String(HTTP_PORT.number),
      ...(ports.noauthPort ? { SIDECAR_NOAUTH_PORT: String(NOAUTH_PORT.number) } : {}),
      UPSTREAM_URL: `http://127.0.0.1:${VLLM_PORT}`,
      WEIGHTS_DIR,
    }),
    ports: [
      { name: HTTP_PORT.name, containerPort: HTTP_PORT.number, protocol: 'TCP' },
      ...(ports.noauthPort
        ? [{ name: NOAUTH_PORT.name, containerPort: NOAUTH_PORT.number, protocol: 'TCP' }]
        : []),
    ],
    readinessProbe: {
      httpGet: { path: '/health', port: HTTP_PORT.name, scheme: 'HTTP' },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    resources,
    securityContext: { ...RESTRICTED_CONTAINER, readOnlyRootFilesystem: true },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [
      { name: 'api-key-hashes', mountPath: API_KEY_HASHES_DIR, readOnly: true },
      { name: 'weights', mountPath: WEIGHTS_DIR, readOnly: true },
    ],
  };
}

/** The pod spec of the serving pods (containers, volumes and mounts sorted by name). */
export function servingPodSpec(input: BuildInput): V1PodSpec {
  const { cr, config } = input;
  const place = placement(cr, config);
  return {
    // vLLM needs no API access; without a token a compromised pod has none either.
    automountServiceAccountToken: false,
    containers: [sidecarContainer(input), vllmContainer(input)],
    // Service links would inject e.g. VLLM_PORT=tcp://… for a Service named vllm, which vLLM
    // reads as its own setting and crashes on.
    enableServiceLinks: false,
    ...(config.images.pullSecrets.length > 0
      ? { imagePullSecrets: [...config.images.pullSecrets].sort().map((name) => ({ name })) }
      : {}),
    nodeSelector: place.nodeSelector,
    ...(cr.spec.pod?.priorityClassName ? { priorityClassName: cr.spec.pod.priorityClassName } : {}),
    // No fsGroup: the weights are mounted read-only and already readable; an fsGroup would make
    // the kubelet walk the volume on every mount.
    securityContext: restrictedPodSecurity(),
    tolerations: place.tolerations,
    volumes: [
      { name: 'api-key-hashes', secret: { secretName: apiKeyHashesSecretName(cr) } },
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: normalizeQuantity(config.shmSize) } },
      { name: 'vllm-home', emptyDir: {} },
      {
        name: 'weights',
        persistentVolumeClaim: { claimName: weightsPvcName(catalogModel(cr, config)), readOnly: true },
      },
    ],
  };
}

/**
 * The serving Deployment of `cr`. `spec.replicas` is omitted when maxSize > minSize, so the
 * autoscaler owns it and server-side apply never fights it (docs/conventions.md#one-field-manager). The pod template carries a
 * hash of its spec and the weights revision (the API-key hashes are not in it: they reload live).
 * progressDeadlineSeconds covers the longest startup probe, so a model load is not reported stuck.
 */
export function deployment(input: BuildInput): V1Deployment {
  const { cr, config } = input;
  const podSpec = servingPodSpec(input);
  const model = catalogModel(cr, config);
  const startupSeconds = config.probes.startupPeriodSeconds * config.probes.startupFailureThreshold;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(cr, workloadName(cr), 'server'),
    spec: {
      ...(autoscaled(input) ? {} : { replicas: cr.spec.minSize }),
      selector: { matchLabels: selectorLabels(cr) },
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: {
          maxSurge: config.rollingUpdate.maxSurge,
          maxUnavailable: config.rollingUpdate.maxUnavailable,
        },
      },
      progressDeadlineSeconds: startupSeconds + 600,
      template: {
        metadata: {
          labels: sortedRecord({ ...cr.spec.pod?.labels, ...standardLabels(cr, 'server') }),
          annotations: sortedRecord({
            ...cr.spec.pod?.annotations,
            [CONFIG_HASH_ANNOTATION]: shortHash({ podSpec, revision: model.weights.revision }, 16),
            'kubectl.kubernetes.io/default-container': 'vllm',
          }),
        },
        spec: podSpec,
      },
    },
  } as V1Deployment;
}

/** Field manager that keeps `spec.replicas` owned while the operator hands it to the autoscaler. */
export const REPLICAS_HANDOFF_MANAGER = 'pixtral-operator-replicas-handoff';

/**
 * When a fixed-size deployment becomes autoscaled, the applied Deployment stops naming
 * `spec.replicas`; were the operator its only manager, server-side apply would remove the field
 * and the server would default it to 1, dropping live replicas. Applying this object first under
 * `REPLICAS_HANDOFF_MANAGER`, with the live count, keeps the field co-owned so it survives until
 * the autoscaler writes it (Kubernetes' documented ownership hand-off for HPAs).
 */
export function replicasHandoff(input: BuildInput, liveReplicas: number): V1Deployment {
  const { cr } = input;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: workloadName(cr), namespace: cr.metadata.namespace! },
    spec: { replicas: liveReplicas },
  } as V1Deployment;
}
