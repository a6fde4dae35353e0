/**
 * What the scale benchmark runs and measures: this operator (the bundle its image runs, or its
 * sources) and, as its peer, KubeAI's manager. Each says how to start it, how to create its
 * n-th custom resource and when that resource counts as Ready.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { API_VERSION, PLURAL } from '../../operator/src/api/pixtral-deployment.ts';
import { Kinds } from '../../operator/src/kinds.ts';
import type { KindRef } from '../../operator/src/runtime/index.ts';
import { freePort } from '../../test/harness/processes.ts';
import { imageEntryNodeFlags } from '../image-entry.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** A controller under test. */
export interface Subject {
  /** Its name in tables and in the audit tally (the first word of its User-Agent). */
  name: string;
  auditClient: string;
  kind: KindRef;
  /** Namespaces its resources are spread over. */
  namespaces: string[];
  /** Starts the controller; its stdout and stderr go to `logPath`. */
  start(logPath: string): Promise<ChildProcess>;
  /** Creates the `index`-th resource in `namespace`; returns its name. */
  create(index: number, namespace: string): Promise<string>;
  isReady(object: KubernetesObject): boolean;
  /** Its Prometheus endpoint with Node's heap gauges, once started (this operator only). */
  metricsUrl?: string;
}

/**
 * This operator, started from `entry` (the image's bundle, or `operator/src/main.ts`) with the
 * chart's V8 flags and leader election, as in production.
 */
export function pixtralSubject(
  kc: KubeConfig,
  kubeconfigPath: string,
  namespaces: string[],
  dir: string,
  entry: string,
): Subject {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const [group, version] = API_VERSION.split('/') as [string, string];
  const subject: Subject = {
    name: 'pixtral-operator',
    auditClient: 'pixtral-operator',
    kind: Kinds.PixtralDeployment,
    namespaces,
    start: async (logPath) => {
      const configFile = join(dir, 'operator-config.json');
      writeFileSync(configFile, '{}');
      const log = openSync(logPath, 'a');
      const healthPort = await freePort();
      subject.metricsUrl = `http://127.0.0.1:${healthPort}/metrics`;
      return spawn(
        process.execPath,
        [
          ...operatorNodeFlags(),
          entry,
          '--kubeconfig',
          kubeconfigPath,
          '--health-host',
          '127.0.0.1',
          '--health-port',
          String(healthPort),
          '--log-level',
          'warn',
          '--log-format',
          'json',
        ],
        {
          env: {
            ...process.env,
            ...operatorImageEnv(),
            OPERATOR_CONFIG_FILE: configFile,
            NODE_OPTIONS: operatorNodeOptions(),
          },
          stdio: ['ignore', log, log],
        },
      );
    },
    create: async (index, namespace) => {
      const name = `pxd-${String(index).padStart(5, '0')}`;
      await custom.createNamespacedCustomObject({
        group,
        version,
        plural: PLURAL,
        namespace,
        body: {
          apiVersion: API_VERSION,
          kind: 'PixtralDeployment',
          metadata: { name },
          spec: { model: 'mistral/pixtral-12b-2409:bf16', nodeType: 'H100' },
        },
      });
      return name;
    },
    isReady: (object) => (object as { status?: { phase?: string } }).status?.phase === 'Ready',
  };
  return subject;
}

/**
 * The operator's V8 flags: BENCH_OPERATOR_NODE_OPTIONS when set (empty for Node's defaults), else
 * the chart's `nodeOptions`, so the benchmark measures the operator as it is deployed.
 */
export function operatorNodeOptions(): string {
  const given = process.env.BENCH_OPERATOR_NODE_OPTIONS;
  if (given !== undefined) return given;
  const values = parseYaml(readFileSync(join(ROOT, 'charts/pixtral-operator/values.yaml'), 'utf8')) as {
    nodeOptions?: string;
  };
  return values.nodeOptions ?? '';
}

/**
 * The operator's Node command-line flags (V8 options that NODE_OPTIONS does not allow):
 * BENCH_OPERATOR_NODE_FLAGS when set (empty for none), else those of the image's entry point.
 */
export function operatorNodeFlags(): string[] {
  const given = process.env.BENCH_OPERATOR_NODE_FLAGS;
  if (given !== undefined) return given.split(' ').filter(Boolean);
  return imageEntryNodeFlags('operator/Dockerfile', 'pixtral-operator');
}

/** The environment the operator's image sets for glibc (its `ENV MALLOC_*` lines). */
export function operatorImageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(ROOT, 'operator/Dockerfile'), 'utf8').split('\n')) {
    if (!line.startsWith('ENV MALLOC_')) continue;
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const [name, value] = pair.split('=') as [string, string];
      env[name] = value;
    }
  }
  return env;
}

const MODEL: KindRef = { apiVersion: 'kubeai.org/v1', kind: 'Model', plural: 'models', namespaced: true };

/**
 * KubeAI's system config for the benchmark: one resource profile for the same H100 nodes (their
 * taint tolerated, one GPU per pod), image names that kwok never pulls, no messaging, and
 * health and metrics on free local ports.
 */
function kubeaiConfig(healthPort: number, metricsPort: number): string {
  return JSON.stringify({
    secretNames: {
      alibaba: 'kubeai-alibaba',
      aws: 'kubeai-aws',
      gcp: 'kubeai-gcp',
      huggingface: 'kubeai-huggingface',
    },
    resourceProfiles: {
      'nvidia-gpu-h100': {
        imageName: 'nvidia-gpu',
        limits: { 'nvidia.com/gpu': '1' },
        requests: { 'nvidia.com/gpu': '1' },
        nodeSelector: { 'node.kubernetes.io/instance-type': 'H100-1-80G' },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' }],
      },
    },
    cacheProfiles: {},
    modelServers: {
      VLLM: { images: { default: 'bench.invalid/vllm:none', 'nvidia-gpu': 'bench.invalid/vllm:none' } },
      OLlama: { images: { default: 'bench.invalid/ollama:none' } },
      FasterWhisper: { images: { default: 'bench.invalid/whisper:none' } },
      Infinity: { images: { default: 'bench.invalid/infinity:none' } },
    },
    modelLoading: { image: 'bench.invalid/loader:none' },
    modelRollouts: { surge: 1 },
    modelAutoscaling: { interval: '10s', timeWindow: '10m', stateConfigMapName: 'kubeai-autoscaler-state' },
    messaging: { streams: [] },
    metricsAddr: `127.0.0.1:${metricsPort}`,
    healthAddress: `127.0.0.1:${healthPort}`,
  });
}

/**
 * KubeAI's manager (scripts/build-kubeai.sh builds it) in `namespace`, which it is confined to
 * (it caches and reconciles its own namespace only), with leader election as its chart runs it.
 */
export async function kubeaiSubject(
  kc: KubeConfig,
  kubeconfigPath: string,
  namespace: string,
  binDir: string,
  dir: string,
): Promise<Subject> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: 'kubeai-autoscaler-state' } },
  });
  return {
    name: 'kubeai',
    auditClient: 'manager',
    kind: MODEL,
    namespaces: [namespace],
    start: async (logPath) => {
      const configFile = join(dir, 'kubeai-system.json');
      writeFileSync(configFile, kubeaiConfig(await freePort(), await freePort()));
      const log = openSync(logPath, 'a');
      return spawn(join(binDir, 'manager'), [`--kubeconfig=${kubeconfigPath}`, '--zap-log-level=error'], {
        env: {
          ...process.env,
          CONFIG_PATH: configFile,
          POD_NAMESPACE: namespace,
          KUBECONFIG: kubeconfigPath,
        },
        stdio: ['ignore', log, log],
      });
    },
    create: async (index, ns) => {
      const name = `model-${String(index).padStart(5, '0')}`;
      await custom.createNamespacedCustomObject({
        group: 'kubeai.org',
        version: 'v1',
        plural: 'models',
        namespace: ns,
        body: {
          apiVersion: 'kubeai.org/v1',
          kind: 'Model',
          metadata: { name },
          spec: {
            features: ['TextGeneration'],
            url: 'hf://mistralai/Pixtral-12B-2409',
            engine: 'VLLM',
            resourceProfile: 'nvidia-gpu-h100:1',
            minReplicas: 1,
            maxReplicas: 1,
            targetRequests: 100,
            scaleDownDelaySeconds: 30,
          },
        },
      });
      return name;
    },
    // Its analogue of Ready: the Model's status counts a Ready pod.
    isReady: (object) =>
      ((object as { status?: { replicas?: { ready?: number } } }).status?.replicas?.ready ?? 0) >= 1,
  };
}
