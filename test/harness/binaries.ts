import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Pinned versions of the test binaries; keep in step with ensure-k8s-bins.sh's defaults. */
export const BINARY_VERSIONS = {
  kubernetes: '1.36.3',
  etcd: '3.6.16',
  kwok: '0.8.0',
  helm: '4.3.1',
} as const;

/** Absolute paths of every binary the harness runs. */
export interface BinaryPaths {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  helm: string;
}

const FILE_NAMES: Record<keyof BinaryPaths, string> = {
  etcd: 'etcd',
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  kubeScheduler: 'kube-scheduler',
  kubectl: 'kubectl',
  kwok: 'kwok',
  helm: 'helm',
};

const ENSURE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'ensure-k8s-bins.sh');

/** The per-user cache folder the build script fills (outside any clone, so CI on this machine reuses it). */
export function cacheFolder(): string {
  const root =
    process.env.PIXTRAL_TEST_BIN_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pixtral-operator', 'k8s-bins');
  const v = BINARY_VERSIONS;
  return join(root, `k8s-${v.kubernetes}-etcd-${v.etcd}-kwok-${v.kwok}-helm-${v.helm}`);
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function lookIn(folder: string | undefined, file: string): string | undefined {
  if (!folder) return undefined;
  const path = join(folder, file);
  return executable(path) ? path : undefined;
}

const VERSION_PROBES: Record<keyof BinaryPaths, { args: string[]; expect: string }> = {
  etcd: { args: ['--version'], expect: BINARY_VERSIONS.etcd },
  kubeApiserver: { args: ['--version'], expect: `v${BINARY_VERSIONS.kubernetes}` },
  kubeControllerManager: { args: ['--version'], expect: `v${BINARY_VERSIONS.kubernetes}` },
  kubeScheduler: { args: ['--version'], expect: `v${BINARY_VERSIONS.kubernetes}` },
  kubectl: { args: ['version', '--client'], expect: `v${BINARY_VERSIONS.kubernetes}` },
  kwok: { args: ['--version'], expect: BINARY_VERSIONS.kwok },
  helm: { args: ['version'], expect: `v${BINARY_VERSIONS.helm}` },
};

/**
 * A binary on the PATH, used only when it is the pinned version: machines often carry an
 * unrelated kubectl (a cloud SDK's, a distribution's) far outside the supported version skew.
 */
function onPath(key: keyof BinaryPaths, file: string): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    const found = lookIn(folder, file);
    if (!found) continue;
    try {
      const out = execFileSync(found, VERSION_PROBES[key].args, {
        encoding: 'utf8',
        timeout: 10_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (out.includes(VERSION_PROBES[key].expect)) return found;
    } catch {
      // not runnable or not the pinned version: keep looking
    }
  }
  return undefined;
}

/**
 * Finds each binary, in this order: the folder named by KUBEBUILDER_ASSETS, the PATH (only at the
 * pinned version), the per-user cache. Returns the paths found and the names still missing.
 */
export function locateBinaries(): { found: Partial<BinaryPaths>; missing: (keyof BinaryPaths)[] } {
  const found: Partial<BinaryPaths> = {};
  const missing: (keyof BinaryPaths)[] = [];
  const cache = existsSync(join(cacheFolder(), '.complete')) ? cacheFolder() : undefined;
  for (const key of Object.keys(FILE_NAMES) as (keyof BinaryPaths)[]) {
    const file = FILE_NAMES[key];
    const path = lookIn(process.env.KUBEBUILDER_ASSETS, file) ?? onPath(key, file) ?? lookIn(cache, file);
    if (path) found[key] = path;
    else missing.push(key);
  }
  return { found, missing };
}

let pending: Promise<BinaryPaths> | undefined;

/**
 * Returns the paths of all test binaries, building the missing ones from the Go module proxy
 * into the per-user cache first (this prints its progress; a cold build takes tens of minutes).
 */
export function findBinaries(): Promise<BinaryPaths> {
  pending ??= resolveBinaries();
  return pending;
}

async function resolveBinaries(): Promise<BinaryPaths> {
  const first = locateBinaries();
  if (first.missing.length === 0) return first.found as BinaryPaths;
  process.stderr.write(
    `Kubernetes test binaries missing (${first.missing.join(', ')}): building them into ${cacheFolder()}\n`,
  );
  try {
    const child = execFileAsync('bash', [ENSURE_SCRIPT], { maxBuffer: 64 * 1024 * 1024 });
    child.child.stderr?.pipe(process.stderr);
    await child;
  } catch (error) {
    const code = (error as { code?: number }).code;
    throw new Error(
      code === 3
        ? 'Cannot build the Kubernetes test binaries: Go >= 1.26 is not installed. Install Go, or point KUBEBUILDER_ASSETS at a folder holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok and helm.'
        : `Building the Kubernetes test binaries failed (test/bin/ensure-k8s-bins.sh exited ${code}); its output above says why`,
      { cause: error },
    );
  }
  const second = locateBinaries();
  if (second.missing.length > 0) {
    throw new Error(`Kubernetes test binaries still missing after the build: ${second.missing.join(', ')}`);
  }
  return second.found as BinaryPaths;
}

/** Pinned versions of the real node's Go-built tools; keep in step with ensure-k8s-bins.sh. */
export const NODE_BINARY_VERSIONS = { coredns: '1.15.0' } as const;

/** The real node's binaries built by `ensure-k8s-bins.sh node` (the pause binary goes into an image). */
export interface NodeBinaryPaths {
  kubelet: string;
  kubeProxy: string;
  coredns: string;
  pause: string;
}

const NODE_FILE_NAMES: Record<keyof NodeBinaryPaths, string> = {
  kubelet: 'kubelet',
  kubeProxy: 'kube-proxy',
  coredns: 'coredns',
  pause: 'pause',
};

/** The per-user cache folder of the real node's binaries (ensure-k8s-bins.sh node). */
export function nodeCacheFolder(): string {
  return join(
    dirname(cacheFolder()),
    `node-k8s-${BINARY_VERSIONS.kubernetes}-coredns-${NODE_BINARY_VERSIONS.coredns}`,
  );
}

const pendingTargets = new Map<string, Promise<string>>();

/** The cache folder of `target`, built first when missing (prints the build's progress). */
function ensureTarget(target: 'node'): Promise<string> {
  let pending = pendingTargets.get(target);
  if (!pending) {
    pending = (async () => {
      const folder = nodeCacheFolder();
      if (existsSync(join(folder, '.complete'))) return folder;
      process.stderr.write(`${target} binaries missing: building them into ${folder}\n`);
      try {
        const child = execFileAsync('bash', [ENSURE_SCRIPT, target], { maxBuffer: 64 * 1024 * 1024 });
        child.child.stderr?.pipe(process.stderr);
        await child;
      } catch (error) {
        throw new Error(
          `Building the ${target} binaries failed (test/bin/ensure-k8s-bins.sh ${target} exited ${(error as { code?: number }).code}); its output above says why`,
          { cause: error },
        );
      }
      return folder;
    })();
    pendingTargets.set(target, pending);
  }
  return pending;
}

/** The real node's binaries, built into the per-user cache first when missing. */
export async function findNodeBinaries(): Promise<NodeBinaryPaths> {
  const folder = await ensureTarget('node');
  const paths = {} as NodeBinaryPaths;
  for (const key of Object.keys(NODE_FILE_NAMES) as (keyof NodeBinaryPaths)[]) {
    paths[key] = join(folder, NODE_FILE_NAMES[key]);
  }
  return paths;
}
