/**
 * Local serving: in local mode kwok only pretends to run the serving pods, so for every Ready
 * PixtralDeployment this starts what such a pod runs, as processes on 127.0.0.1: the real limits
 * sidecar, configured from the sidecar container the operator's builders put in the applied
 * Deployment (its env, with the pod's addresses and mounts replaced by local ones) and the key
 * hashes from the deployment's hashes Secret; and, in vLLM's place, the vLLM stand-in run with
 * the vLLM container's own `vllm serve` arguments and env, whose canned answer says it is one.
 * Level-triggered like the reconciler: each change of a PixtralDeployment, its Deployment or its
 * hashes Secret re-checks that deployment, changed containers restart both processes on the same
 * ports, and a changed Secret rewrites the hashes file, which the sidecar reloads as it does from
 * a Secret volume.
 */

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1Deployment, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Backoff } from '../../common/backoff.ts';
import type { PixtralDeployment } from './api/pixtral-deployment.ts';
import { WEIGHTS_DIR } from './builders/deployment.ts';
import { apiKeyHashesSecretName, apiKeysSecretName, workloadName } from './builders/names.ts';
import { Kinds } from './kinds.ts';
import { freePort } from './local-ports.ts';
import { LocalProcess } from './local-processes.ts';
import type { LocalEndpoint } from './local-ready-block.ts';
import { type Informer, type KubeClient, keyString } from './runtime/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** The sidecar's entry point, the same file the runtime image runs. */
export const SIDECAR_MAIN = join(ROOT, 'runtime-image', 'src', 'sidecar', 'main.ts');
/**
 * The vLLM stand-in: `vllm serve`'s command line (vLLM's own option table; a flag vLLM would
 * refuse fails it too), and the routes, objects and errors of vLLM's OpenAI server.
 */
export const STAND_IN_MAIN = join(ROOT, 'test', 'upstream-stub', 'vllm-cli.ts');
/** What the stand-in answers to every chat request. */
export const STAND_IN_ANSWER =
  'This answer comes from the local stand-in for vLLM, not from Pixtral: no GPU or model weights run here. ' +
  'Your request passed the real limits sidecar (API key, image limits, exact token count) on its way.';

/** Where the serving pod's sidecar finds things, and where the local one does instead. */
export interface LocalSidecarPlaces {
  port: number;
  /** Used only when the pod's sidecar opens its keyless second port. */
  noauthPort: number;
  upstreamUrl: string;
  apiKeyHashesFile: string;
  /** Folder holding the model's tekken.json. */
  weightsDir: string;
}

/** The container `name` of a serving Deployment; throws naming what is missing. */
export function servingContainer(deployment: V1Deployment, name: 'sidecar' | 'vllm'): V1Container {
  const container = deployment.spec?.template?.spec?.containers?.find((c) => c.name === name);
  if (!container)
    throw new Error(
      `Deployment ${deployment.metadata?.namespace}/${deployment.metadata?.name} has no ${name} container`,
    );
  return container;
}

/** A container's env as a record; throws for a variable taken from elsewhere (a Secret, a field). */
function plainEnv(container: V1Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value === undefined)
      throw new Error(
        `The ${container.name} container's ${variable.name} comes from ${JSON.stringify(variable.valueFrom)}, which local mode cannot resolve`,
      );
    env[variable.name] = variable.value;
  }
  return env;
}

/**
 * The stand-in's command line: the vLLM container's `vllm serve` arguments as the operator
 * generated them, with the mounted weights folder replaced by a local one (the stand-in reads it
 * at start) and the pod's loopback port by a free local one. Throws when the configured vLLM
 * command is not `... serve` (the stand-in speaks only that command line).
 */
export function localStandInArgs(
  deployment: V1Deployment,
  places: { port: number; modelDir: string },
): string[] {
  const vllm = servingContainer(deployment, 'vllm');
  const command = vllm.command ?? [];
  if (command.at(-1) !== 'serve')
    throw new Error(
      `The vLLM stand-in takes \`vllm serve\`'s command line, and the vllm container runs ${JSON.stringify(command)}: set images.vllmCommand to ["vllm", "serve"] for local mode`,
    );
  const args = (vllm.args ?? []).map((arg) => (arg === WEIGHTS_DIR ? places.modelDir : arg));
  const set = (flag: string, value: string) => {
    const at = args.indexOf(flag);
    if (at >= 0 && at + 1 < args.length) args[at + 1] = value;
    else args.push(flag, value);
  };
  set('--host', '127.0.0.1');
  set('--port', String(places.port));
  return ['serve', ...args];
}

/** The stand-in's environment: the vLLM container's, and the canned answer. */
export function localStandInEnv(deployment: V1Deployment): Record<string, string> {
  return { ...plainEnv(servingContainer(deployment, 'vllm')), STAND_IN_ANSWER };
}

/**
 * The local sidecar's environment: the serving pod's sidecar env, with the listening addresses,
 * the upstream, and the mounted files replaced by their local places. No shutdown delay (there
 * is no Service endpoint to be removed from first) and a short grace, so Ctrl-C is quick.
 */
export function localSidecarEnv(
  deployment: V1Deployment,
  places: LocalSidecarPlaces,
): Record<string, string> {
  const env = plainEnv(servingContainer(deployment, 'sidecar'));
  return {
    ...env,
    SIDECAR_HOST: '127.0.0.1',
    SIDECAR_PORT: String(places.port),
    ...(env.SIDECAR_NOAUTH_PORT ? { SIDECAR_NOAUTH_PORT: String(places.noauthPort) } : {}),
    UPSTREAM_URL: places.upstreamUrl,
    ...(env.API_KEY_HASHES_FILE ? { API_KEY_HASHES_FILE: places.apiKeyHashesFile } : {}),
    WEIGHTS_DIR: places.weightsDir,
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_GRACE_MS: '1500',
  };
}

/** The first non-empty key of a keys Secret (values base64, as the API returns them). */
export function firstApiKey(secret: V1Secret | undefined): string | undefined {
  for (const [, value] of Object.entries(secret?.data ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const key = Buffer.from(value, 'base64').toString('utf8').trim();
    if (key) return key;
  }
  return undefined;
}

/** One deployment served locally. */
interface Served {
  sidecar: LocalProcess;
  standIn: LocalProcess;
  /** The pod's two containers it was started from: a change restarts both. */
  containers: string;
  /** The Deployment's metadata.generation they were read at. */
  generation: number | undefined;
  ports: { port: number; noauthPort: number; standIn: number };
  hashes: string;
  folder: string;
}

/** What LocalServing needs. */
export interface LocalServingOptions {
  client: KubeClient;
  pixtralDeployments: Informer<PixtralDeployment>;
  deployments: Informer<V1Deployment>;
  /** Secrets the operator manages (the hashes Secrets are among them). */
  managedSecrets: Informer<V1Secret>;
  /** Folder for logs, pid files and key hashes; removed with the local cluster. */
  dir: string;
  /** Folder holding tekken.json. */
  tokenizerDir: string;
  log: Logger;
  /** Called once per deployment, when it first answers on 127.0.0.1. */
  onServing: (endpoint: LocalEndpoint) => void;
  /** How long a process may take to answer /health. Default 60 s. */
  startTimeoutMs?: number;
}

/** Resolves once `url` answers 2xx; throws with the process's last output if it exits or takes too long. */
async function healthy(
  url: string,
  child: LocalProcess,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal.aborted) throw new Error(`Stopped before ${child.name} answered`);
    if (!child.running) throw new Error(`${child.name} exited; its output ends:\n${child.tail()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(
        `${child.name} did not answer ${url} within ${timeoutMs} ms; its output ends:\n${child.tail()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** First and longest wait (doubling between) before a deployment whose processes failed to start is tried again. */
const RETRY = { durationMs: 5_000, capMs: 60_000 };

/** Serves every Ready PixtralDeployment on 127.0.0.1 (see the file comment). */
export class LocalServing {
  readonly #o: LocalServingOptions;
  readonly #served = new Map<string, Served>();
  /** Per deployment, the sync in progress: syncs of one deployment never overlap. */
  readonly #syncs = new Map<string, Promise<void>>();
  readonly #pending = new Set<string>();
  /** Per deployment whose processes failed to start, the wait before the next try. */
  readonly #retries = new Map<string, Backoff>();
  readonly #stopping = new AbortController();
  #unsubscribe: (() => void)[] = [];

  constructor(options: LocalServingOptions) {
    this.#o = options;
  }

  /** Starts following the caches (before or after they sync). */
  start(): void {
    const { pixtralDeployments, deployments, managedSecrets } = this.#o;
    const byNamespace = (namespace: string | undefined) =>
      pixtralDeployments.list(namespace ?? '').map((cr) => this.#key(cr));
    this.#unsubscribe = [
      pixtralDeployments.subscribe((event) => {
        if (event.type === 'sync') for (const cr of pixtralDeployments.list()) this.#enqueue(this.#key(cr));
        else this.#enqueue(this.#key(event.object));
      }),
      deployments.subscribe((event) => {
        if (event.type !== 'sync')
          for (const key of byNamespace(event.object.metadata?.namespace)) this.#enqueue(key);
      }),
      managedSecrets.subscribe((event) => {
        if (event.type !== 'sync')
          for (const key of byNamespace(event.object.metadata?.namespace)) this.#enqueue(key);
      }),
    ];
  }

  /** Stops every process it started; resolves when they are gone. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await Promise.allSettled(this.#syncs.values());
    await Promise.all([...this.#served.keys()].map((key) => this.#stopServing(key)));
  }

  #key(cr: PixtralDeployment): string {
    return keyString({ namespace: cr.metadata.namespace ?? '', name: cr.metadata.name ?? '' });
  }

  #enqueue(key: string): void {
    if (this.#stopping.signal.aborted) return;
    if (this.#syncs.has(key)) {
      this.#pending.add(key);
      return;
    }
    const run = this.#sync(key)
      .then(
        () => {
          this.#retries.delete(key);
        },
        (err: unknown) => {
          if (this.#stopping.signal.aborted) return;
          const backoff = this.#retries.get(key) ?? new Backoff(RETRY);
          this.#retries.set(key, backoff);
          const waitMs = backoff.next() ?? RETRY.capMs;
          this.#o.log.error(
            { pxd: key, err, retryInSeconds: waitMs / 1000 },
            'Could not serve the deployment locally',
          );
          setTimeout(() => this.#enqueue(key), waitMs).unref();
        },
      )
      .finally(() => {
        this.#syncs.delete(key);
        if (this.#pending.delete(key)) this.#enqueue(key);
      });
    this.#syncs.set(key, run);
  }

  async #sync(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const cr = this.#o.pixtralDeployments.get(namespace, name);
    if (!cr || cr.metadata.deletionTimestamp) {
      await this.#stopServing(key);
      return;
    }
    const served = this.#served.get(key);
    // Serve from the first Ready on; a rollout later does not stop what already answers.
    if (!served && cr.status?.phase !== 'Ready') return;
    const cached = this.#o.deployments.get(namespace, workloadName(cr));
    if (!cached) return;
    const hashesSecret = this.#o.managedSecrets.get(namespace, apiKeyHashesSecretName(cr));
    const hashes = Buffer.from(hashesSecret?.data?.hashes ?? '', 'base64').toString('utf8');
    // The cache keeps no pod template (runtime/cache-transform.ts): the live Deployment is read
    // when its spec changed, which its generation tells.
    const generation = cached.metadata?.generation;
    if (served && served.generation === generation) return this.#updateHashes(key, served, hashes);
    const deployment = await this.#o.client.get<V1Deployment>(Kinds.Deployment, {
      namespace,
      name: workloadName(cr),
    });
    if (!deployment) return;
    const containers = JSON.stringify([
      servingContainer(deployment, 'sidecar'),
      servingContainer(deployment, 'vllm'),
    ]);
    if (served && served.containers === containers) {
      served.generation = generation;
      return this.#updateHashes(key, served, hashes);
    }
    if (served)
      this.#o.log.info(
        { pxd: key },
        'The serving containers changed: restarting the local sidecar and stand-in',
      );
    await this.#stopServing(key);
    if (this.#stopping.signal.aborted) return;
    await this.#startServing(key, cr, deployment, hashes, containers, served?.ports);
  }

  #updateHashes(key: string, served: Served, hashes: string): void {
    if (served.hashes === hashes) return;
    writeAtomically(join(served.folder, 'hashes'), hashes);
    served.hashes = hashes;
    this.#o.log.info({ pxd: key }, "Updated the local sidecar's API key hashes");
  }

  async #startServing(
    key: string,
    cr: PixtralDeployment,
    deployment: V1Deployment,
    hashes: string,
    containers: string,
    previousPorts: Served['ports'] | undefined,
  ): Promise<void> {
    const { dir, log } = this.#o;
    const namespace = cr.metadata.namespace ?? '';
    const name = cr.metadata.name ?? '';
    const id = `${namespace}_${name}`;
    const folder = join(dir, 'serving', id);
    mkdirSync(folder, { recursive: true });
    writeAtomically(join(folder, 'hashes'), hashes);
    const ports = previousPorts ?? {
      port: await freePort(),
      noauthPort: await freePort(),
      standIn: await freePort(),
    };
    const env = localSidecarEnv(deployment, {
      port: ports.port,
      noauthPort: ports.noauthPort,
      upstreamUrl: `http://127.0.0.1:${ports.standIn}`,
      apiKeyHashesFile: join(folder, 'hashes'),
      weightsDir: this.#o.tokenizerDir,
    });
    const model = env.SERVED_MODEL_NAME ?? String(cr.spec.model);
    const timeoutMs = this.#o.startTimeoutMs ?? 60_000;
    const path = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    const standIn = LocalProcess.start({
      name: `${id}-vllm-stand-in`,
      script: STAND_IN_MAIN,
      args: localStandInArgs(deployment, { port: ports.standIn, modelDir: this.#o.tokenizerDir }),
      env: { ...path, ...localStandInEnv(deployment) },
      dir,
    });
    const sidecar = LocalProcess.start({
      name: `${id}-sidecar`,
      script: SIDECAR_MAIN,
      env: { ...path, ...env },
      dir,
    });
    const served: Served = {
      sidecar,
      standIn,
      containers,
      generation: deployment.metadata?.generation,
      ports,
      hashes,
      folder,
    };
    this.#served.set(key, served);
    const stopping = this.#stopping.signal;
    try {
      await healthy(`http://127.0.0.1:${ports.standIn}/health`, standIn, timeoutMs, stopping);
      await healthy(`http://127.0.0.1:${ports.port}/health`, sidecar, timeoutMs, stopping);
    } catch (error) {
      // Nothing half-started stays behind; the next try starts both afresh.
      await this.#stopServing(key);
      throw error;
    }
    log.info(
      { pxd: key, sidecarLog: sidecar.logPath, standInLog: standIn.logPath },
      'Started the sidecar and the vLLM stand-in on 127.0.0.1',
    );
    if (previousPorts) return;
    const keysSecret = await this.#o.client.get<V1Secret>(Kinds.Secret, {
      namespace,
      name: apiKeysSecretName(cr),
    });
    const authOff = env.DISABLE_AUTH === 'true';
    this.#o.onServing({
      namespace,
      name,
      baseUrl: `http://127.0.0.1:${ports.port}/v1`,
      model,
      apiKey: authOff ? undefined : firstApiKey(keysSecret),
      keySecret: `${namespace}/${apiKeysSecretName(cr)}`,
      maxImagesPerRequest: Number(env.MAX_IMAGES_PER_REQUEST ?? 12),
      standIn: 'a stand-in for vLLM',
    });
  }

  async #stopServing(key: string): Promise<void> {
    const served = this.#served.get(key);
    if (!served) return;
    this.#served.delete(key);
    // The sidecar first: it stops taking requests, then its upstream goes.
    await served.sidecar.stop();
    await served.standIn.stop();
  }
}

/** Writes `text` to `path` through a rename, so a reader never sees half a file. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
