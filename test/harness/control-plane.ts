import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Agent, fetch } from 'undici';
import { type BinaryPaths, findBinaries } from './binaries.ts';
import { installCrds } from './crds.ts';
import { kubeconfigYaml, type Pki, writePki } from './pki.ts';
import { Component, freePort, startWatchdog, tail, trackFolder, untrackFolder } from './processes.ts';

const KWOK_STAGES = join(import.meta.dirname, 'kwok-stages');
const KWOK_STAGE_FILES = [
  'node-initialize.yaml',
  'node-heartbeat-with-lease.yaml',
  'pod-ready.yaml',
  'pod-complete.yaml',
  'pod-delete.yaml',
  'pod-container-running-failed.yaml',
  'node-not-ready.yaml',
];

/** What to run besides etcd and kube-apiserver. */
export interface ControlPlaneOptions {
  /** kube-controller-manager (garbage collector, Deployments, Jobs, node lifecycle). Default false. */
  controllerManager?: boolean;
  /** kube-scheduler. Default false. */
  scheduler?: boolean;
  /** kwok, the fake kubelet for nodes created by createGpuNodes. Default false. */
  kwok?: boolean;
  /** Shorthand for all three of the above. */
  full?: boolean;
  /** Write an audit log (JSON lines, level Metadata, stage ResponseComplete only). Default false. */
  auditLog?: boolean;
  /** The API server's watch cache; off makes watches from a compacted revision answer 410. Default true. */
  watchCache?: boolean;
  /**
   * CRD files to install once the API server is up and before the controller manager starts, as on
   * a long-running cluster: the garbage collector only learns new resources on its 30 s discovery
   * resync, so a CRD installed later leaves owned children uncollected for up to a minute or two.
   */
  crds?: string[];
  /** Print what starts to stderr. Default true. */
  verbose?: boolean;
  /** Receives each progress line instead of stderr (the operator's local mode logs them). */
  progress?: (message: string) => void;
  /**
   * The address kube-apiserver listens on and advertises (the `kubernetes` Service's endpoint).
   * Default 127.0.0.1; a real node's pods need an address they can reach, its bridge's.
   */
  bindAddress?: string;
  /**
   * The ServiceAccount admission plugin, which mounts a token into every pod. Off by default (pods
   * created right after their namespace would race the default ServiceAccount's creation); a
   * real node's pods that talk to the API server need it.
   */
  serviceAccountAdmission?: boolean;
}

/** Result of a kubectl run. */
export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** The cluster as a test sees it. */
export interface Cluster {
  /** Path of an admin (system:masters) kubeconfig. */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  apiServerUrl: string;
  bins: BinaryPaths;
  /** A fresh admin KubeConfig for @kubernetes/client-node. */
  kubeConfig(): KubeConfig;
  /** Runs kubectl against this cluster; never throws on a non-zero exit. */
  kubectl(args: string[], options?: { input?: string }): Promise<KubectlResult>;
}

/** A cluster this test owns. */
export interface ControlPlane extends Cluster {
  /** The folder holding PKI, data and logs; deleted by stop(). */
  dir: string;
  /** Set when started with auditLog. */
  auditLogPath?: string;
  /** The certificates (the CA signs a real node's kubelet certificate). */
  pki: Pki;
  /** Stops kube-apiserver only (etcd keeps the data). */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again on the same port and waits for /readyz. */
  startApiServer(): Promise<void>;
  /** Compacts etcd up to its current revision. */
  compactEtcd(): Promise<void>;
  /** Stops every process and deletes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Runs kubectl with the given kubeconfig. */
export function runKubectl(
  kubectl: string,
  kubeconfigPath: string,
  args: string[],
  options: { input?: string } = {},
): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectl,
      ['--kubeconfig', kubeconfigPath, ...args],
      { maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ stdout, stderr, code });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

async function waitUntil(
  what: string,
  component: Component,
  check: () => Promise<boolean>,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    component.assertRunning();
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${timeoutMs} ms; ${component.name}'s log ends:\n${tail(component.logPath)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Starts etcd and kube-apiserver (and optionally kube-controller-manager, kube-scheduler and
 * kwok) as local processes on free ports of 127.0.0.1, with generated certificates, and waits
 * until they are ready. Always call stop(); a killed test process is cleaned up by a watchdog.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const full = options.full ?? false;
  const withKcm = options.controllerManager ?? full;
  const withScheduler = options.scheduler ?? full;
  const withKwok = options.kwok ?? full;
  const verbose = options.verbose ?? true;
  const say = (message: string) => {
    if (options.progress) options.progress(message);
    else if (verbose) process.stderr.write(`[control-plane] ${message}\n`);
  };
  const started = Date.now();

  const bins = await findBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'pixtral-cp-'));
  trackFolder(dir);
  startWatchdog(dir);
  const components: Component[] = [];
  const stopAll = async () => {
    for (const component of [...components].reverse()) await component.stop();
    await rm(dir, { recursive: true, force: true });
    untrackFolder(dir);
  };

  try {
    await mkdir(join(dir, 'logs'));
    await mkdir(join(dir, 'pki'));
    say(`generating certificates in ${dir}`);
    const bindAddress = options.bindAddress ?? '127.0.0.1';
    const pki = await writePki(join(dir, 'pki'), bindAddress === '127.0.0.1' ? [] : [bindAddress]);
    const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedulerPort] = await Promise.all(
      Array.from({ length: 5 }, () => freePort()),
    );
    const apiServerUrl = `https://${bindAddress}:${apiPort}`;
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, await kubeconfigYaml(pki, apiServerUrl), { mode: 0o600 });

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = new Component(dir, 'etcd', bins.etcd, [
      '--name=pixtral-test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=pixtral-test=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync',
      '--quota-backend-bytes=4294967296',
      '--log-level=warn',
    ]);
    components.push(etcd);
    say(`starting etcd on ${etcdUrl}`);
    etcd.start();
    await waitUntil('etcd', etcd, async () => (await fetch(`${etcdUrl}/readyz`)).ok, 30_000);

    const auditLogPath = options.auditLog ? join(dir, 'audit.log') : undefined;
    if (auditLogPath) {
      await writeFile(
        join(dir, 'audit-policy.yaml'),
        'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted, Panic]\nrules:\n- level: Metadata\n',
      );
    }
    const apiServer = new Component(dir, 'kube-apiserver', bins.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${bindAddress}`,
      `--advertise-address=${bindAddress}`,
      `--secure-port=${apiPort}`,
      // For logs and exec on a real node's kubelet, which authorizes the admin through RBAC.
      `--kubelet-client-certificate=${pki.adminCert}`,
      `--kubelet-client-key=${pki.adminKey}`,
      // A real node's name resolves nowhere; its InternalIP is the bridge address.
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      // Pods created right after their namespace would otherwise race the controller manager's
      // creation of the default service account (envtest disables it for the same reason).
      ...(options.serviceAccountAdmission ? [] : ['--disable-admission-plugins=ServiceAccount']),
      '--profiling=false',
      `--watch-cache=${options.watchCache ?? true}`,
      ...(auditLogPath
        ? [
            `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
            `--audit-log-path=${auditLogPath}`,
            '--audit-log-format=json',
            '--audit-log-mode=blocking',
          ]
        : []),
      '--v=0',
    ]);
    components.push(apiServer);
    const adminAgent = new Agent({
      connect: {
        ca: await readFile(pki.caCert),
        cert: await readFile(pki.adminCert),
        key: await readFile(pki.adminKey),
      },
    });
    const startApiServer = async () => {
      say(`starting kube-apiserver on ${apiServerUrl}`);
      apiServer.start();
      await waitUntil(
        'kube-apiserver',
        apiServer,
        async () => (await fetch(`${apiServerUrl}/readyz`, { dispatcher: adminAgent })).ok,
        120_000,
      );
    };
    await startApiServer();

    if (options.crds?.length) {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      say(`installing ${options.crds.length} CRD file(s)`);
      await installCrds(kc, options.crds);
    }
    const insecure = new Agent({ connect: { rejectUnauthorized: false } });
    const healthz = (port: number) => async () =>
      (await fetch(`https://127.0.0.1:${port}/healthz`, { dispatcher: insecure })).ok;
    const componentArgs = (port: number) => [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--leader-elect=false',
      '--v=0',
    ];
    if (withKcm) {
      const kcm = new Component(dir, 'kube-controller-manager', bins.kubeControllerManager, [
        ...componentArgs(kcmPort as number),
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--controllers=*',
        ...(process.env.KCM_VERBOSITY ? [`--v=${process.env.KCM_VERBOSITY}`] : []),
        '--node-monitor-grace-period=50s',
      ]);
      components.push(kcm);
      say('starting kube-controller-manager');
      kcm.start();
      await waitUntil('kube-controller-manager', kcm, healthz(kcmPort as number), 60_000);
    }
    if (withScheduler) {
      const scheduler = new Component(
        dir,
        'kube-scheduler',
        bins.kubeScheduler,
        componentArgs(schedulerPort as number),
      );
      components.push(scheduler);
      say('starting kube-scheduler');
      scheduler.start();
      await waitUntil('kube-scheduler', scheduler, healthz(schedulerPort as number), 60_000);
    }
    if (withKwok) {
      const kwok = new Component(dir, 'kwok', bins.kwok, [
        `--kubeconfig=${kubeconfigPath}`,
        ...KWOK_STAGE_FILES.map((file) => `--config=${join(KWOK_STAGES, file)}`),
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        '--node-ip=127.0.0.1',
        '--node-lease-duration-seconds=40',
        '--cidr=10.244.0.0/16',
      ]);
      components.push(kwok);
      say('starting kwok');
      kwok.start();
      await new Promise((r) => setTimeout(r, 300));
      kwok.assertRunning();
    }
    say(`ready in ${Date.now() - started} ms (${components.map((c) => c.name).join(', ')})`);

    return {
      dir,
      pki,
      kubeconfigPath,
      apiServerUrl,
      bins,
      ...(auditLogPath ? { auditLogPath } : {}),
      kubeConfig: () => {
        const kc = new KubeConfig();
        kc.loadFromFile(kubeconfigPath);
        return kc;
      },
      kubectl: (args, opts) => runKubectl(bins.kubectl, kubeconfigPath, args, opts),
      stopApiServer: () => apiServer.stop(),
      startApiServer,
      compactEtcd: async () => {
        // etcd's JSON gateway: read any key to learn the current revision, then compact to it.
        const range = await fetch(`${etcdUrl}/v3/kv/range`, {
          method: 'POST',
          body: JSON.stringify({ key: 'AA==' }),
        });
        const revision = ((await range.json()) as { header: { revision: string } }).header.revision;
        const compacted = await fetch(`${etcdUrl}/v3/kv/compaction`, {
          method: 'POST',
          body: JSON.stringify({ revision, physical: true }),
        });
        if (!compacted.ok)
          throw new Error(`etcd compaction failed: ${compacted.status} ${await compacted.text()}`);
      },
      stop: async () => {
        say('stopping');
        await stopAll();
        await adminAgent.close();
        await insecure.close();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export type { Pki };
