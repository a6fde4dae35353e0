/**
 * A real node beside the harness's control plane: containerd + runc run real containers, a
 * kubelet joins the cluster, the CNI bridge plugin puts pods on a bridge this module creates,
 * kube-proxy programs Service IPs with iptables and CoreDNS answers `*.svc.cluster.local` on the
 * bridge's address. Every piece lives in one temp folder; teardown (also by the watchdog after a
 * killed test process) removes processes, containers, mounts, network namespaces, cgroups,
 * iptables rules and the bridge.
 *
 * Only one real node runs on a machine at a time: kube-proxy's iptables chains are global, and
 * teardown removes them. startRealNodeCluster waits for a machine-wide lock (a held lock goes stale
 * 30 s after its holder died).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import lockfile from 'proper-lockfile';
import { findNodeBinaries, type NodeBinaryPaths } from './binaries.ts';
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from './control-plane.ts';
import { eventually } from './eventually.ts';
import { GPU_TAINT, type GpuNodeType } from './gpu-nodes.ts';
import { issueClientCertificate } from './pki.ts';
import {
  Component,
  freePort,
  startWatchdog,
  TEARDOWN_SCRIPT,
  tail,
  trackFolder,
  untrackFolder,
} from './processes.ts';

const run = promisify(execFile);

/** The pause image every pod sandbox runs, built locally by `scripts/build-images.sh pause`. */
export const PAUSE_IMAGE = 'pixtral-pause:3.10';
/** How containerd names it after `docker save | ctr images import` (docker's default registry). */
const PAUSE_IMAGE_REF = `docker.io/library/${PAUSE_IMAGE}`;
/** The cgroup controllers the kubelet needs (cgroup v1 mounts each at /sys/fs/cgroup/<name>). */
const CGROUP_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];
const SERVICE_CIDR = '10.96.0.0/16';

/** The cgroup v1 hierarchies mounted under /sys/fs/cgroup (cgroup2's `unified` is not one the kubelet uses here). */
function mountedHierarchies(): string[] {
  return readdirSync('/sys/fs/cgroup').filter(
    (name) => name !== 'unified' && existsSync(join('/sys/fs/cgroup', name, 'cgroup.procs')),
  );
}
const CNI_BIN_DIR = '/usr/lib/cni';
/** The machine-wide lock of the one real node (a file next to which proper-lockfile makes its lock folder). */
const MACHINE_LOCK = join(tmpdir(), 'pixtral-real-node.lock');

const INSTANCE_TYPES: Record<GpuNodeType, { instanceType: string; gpus: number }> = {
  H100: { instanceType: 'H100-1-80G', gpus: 1 },
  'H100-2': { instanceType: 'H100-2-80G', gpus: 2 },
};

export interface RealNodeOptions {
  /** The GPU node type the node passes for (labels, taint, `nvidia.com/gpu` capacity). Default H100. */
  nodeType?: GpuNodeType;
  /**
   * The `nvidia.com/gpu` NoSchedule taint. Default true. A one-node cluster has no CPU node for
   * what runs there in a real cluster (the operator, the weights Job): false leaves it off.
   */
  taint?: boolean;
  /** Local Docker images to load into containerd's store, so pods start with IfNotPresent. */
  images?: string[];
  /** Control plane options (the bind address and ServiceAccount admission are set here). */
  controlPlane?: Omit<ControlPlaneOptions, 'bindAddress' | 'serviceAccountAdmission' | 'kwok'>;
  /** Print what starts to stderr. Default true. */
  verbose?: boolean;
}

/** A control plane with one real node. */
export interface RealNodeCluster extends ControlPlane {
  node: {
    name: string;
    /** The bridge's own address: the node's IP, the API server's, CoreDNS's; reachable from pods. */
    ip: string;
    /** The pods' subnet on the bridge. */
    podCidr: string;
    bridge: string;
    /** The folder of containerd, kubelet and CNI state; deleted by stop(). */
    dir: string;
  };
  /** Loads local Docker images into the node's containerd (`docker save | ctr images import`). */
  importImages(images: string[]): Promise<void>;
  /** `ctr` against the node's containerd, namespace k8s.io. */
  ctr(args: string[]): Promise<string>;
}

/**
 * Why this machine cannot run a real node, as one line saying what to install or enable, or
 * undefined when it can. Checked before anything starts.
 */
export function realNodeUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the real node needs root (containerd, mounts, iptables, a bridge)';
  const commands: [string, string][] = [
    ['containerd', 'containerd'],
    ['ctr', 'containerd'],
    ['runc', 'runc'],
    ['iptables', 'iptables'],
    ['iptables-save', 'iptables'],
    ['ip', 'iproute2'],
    ['docker', 'docker.io'],
  ];
  for (const [command, pkg] of commands) {
    const found = (process.env.PATH ?? '/usr/sbin:/usr/bin')
      .split(':')
      .concat(['/usr/sbin', '/sbin'])
      .some((dir) => existsSync(join(dir, command)));
    if (!found) return `${command} is missing: apt-get install -y ${pkg} (or ./scripts/setup.sh test)`;
  }
  for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) {
    if (!existsSync(join(CNI_BIN_DIR, plugin)))
      return `the CNI plugin ${CNI_BIN_DIR}/${plugin} is missing: apt-get install -y containernetworking-plugins`;
  }
  for (const controller of CGROUP_CONTROLLERS) {
    if (!existsSync(join('/sys/fs/cgroup', controller, 'cgroup.procs')))
      return `the cgroup v1 controller ${controller} is not mounted at /sys/fs/cgroup/${controller}: mount it (mount -t cgroup -o ${controller} cgroup /sys/fs/cgroup/${controller})`;
  }
  if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables'))
    return 'bridged traffic does not reach iptables: load the br_netfilter kernel module (modprobe br_netfilter)';
  return undefined;
}

/** A /24 in 10.234.0.0/16 that no interface of this machine uses yet. */
function freeSubnet(): { podCidr: string; gateway: string } {
  const used = new Set(
    readFileSync('/proc/net/fib_trie', 'utf8')
      .split('\n')
      .map((line) => /10\.234\.(\d+)\./.exec(line)?.[1])
      .filter((third): third is string => third !== undefined),
  );
  for (;;) {
    const third = String(randomBytes(1)[0]);
    if (!used.has(third)) return { podCidr: `10.234.${third}.0/24`, gateway: `10.234.${third}.1` };
  }
}

/**
 * The teardown script, written before anything is created so the watchdog can undo a half-made
 * node too. Order matters: containers (runc, then every process left in the node's cgroups),
 * shims, iptables rules, mounts (netns files included: containerd keeps them in its state folder),
 * cgroup folders, the bridge.
 */
function teardownScript(p: {
  dir: string;
  runcRoot: string;
  socket: string;
  cgroupRoot: string;
  network: string;
  bridge: string;
  kubeProxy: string;
}): string {
  return `#!/bin/bash
# Undoes the real node in ${p.dir}; run once its processes are signalled. Idempotent.
D=${JSON.stringify(p.dir)}
RUNC_ROOT=${JSON.stringify(p.runcRoot)}
SOCK=${JSON.stringify(p.socket)}
CG=${JSON.stringify(p.cgroupRoot)}
NET=${JSON.stringify(p.network)}
BRIDGE=${JSON.stringify(p.bridge)}
# Containers: runc kills and deletes each; containerd's shim socket is named after a hash of
# (containerd address, namespace, id) under /run/containerd/s.
for ns in "$RUNC_ROOT"/*/; do
  [ -d "$ns" ] || continue
  for id in $(runc --root "$ns" list -q 2>/dev/null); do
    runc --root "$ns" delete -f "$id" 2>/dev/null
    rm -f "/run/containerd/s/$(printf '%s' "$SOCK/$(basename "$ns")/$id" | sha256sum | cut -d' ' -f1)"
  done
done
# Shims and anything else started with this folder on its command line (not this script).
for pid in $(ps -eo pid=,args= | awk -v d="$D/" 'index($0, d) && !/pixtral-cp-watchdog/ && !/${TEARDOWN_SCRIPT}/ {print $1}'); do
  kill -KILL "$pid" 2>/dev/null
done
# Whatever still runs in the node's cgroups, then the cgroup folders, deepest first.
for c in /sys/fs/cgroup/*/"$CG"; do
  [ -d "$c" ] && find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
done
sleep 0.5
# kube-proxy's chains (only one real node runs at a time), then rules naming this CNI network
# (the portmap and bridge plugins tag theirs) and the chains they jump to.
${JSON.stringify(p.kubeProxy)} --cleanup >/dev/null 2>&1
# The kubelet's own chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT), which
# kube-proxy --cleanup leaves: the jumps to them, then the chains.
for ipt in iptables ip6tables; do
  for t in filter nat mangle; do
    $ipt-save -t $t 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -v '^-A KUBE-' | sed 's/^-A /-D /' | while read -r rule; do
      eval "$ipt -w -t $t $rule" 2>/dev/null
    done
    for chain in $($ipt-save -t $t 2>/dev/null | sed -n 's/^:\\(KUBE-[^ ]*\\) .*/\\1/p'); do $ipt -w -t $t -F "$chain" 2>/dev/null; done
    for chain in $($ipt-save -t $t 2>/dev/null | sed -n 's/^:\\(KUBE-[^ ]*\\) .*/\\1/p'); do $ipt -w -t $t -X "$chain" 2>/dev/null; done
  done
done
for t in nat filter mangle; do
  chains=$(iptables-save -t $t 2>/dev/null | grep -F -- "$NET" | grep -o -- '-j CNI-[A-Za-z0-9-]*' | cut -c4- | sort -u)
  iptables-save -t $t 2>/dev/null | grep -F -- "$NET" | grep '^-A ' | sed 's/^-A /-D /' | while read -r rule; do
    eval "iptables -w -t $t $rule" 2>/dev/null
  done
  for chain in $chains; do iptables -w -t $t -F "$chain" 2>/dev/null; iptables -w -t $t -X "$chain" 2>/dev/null; done
done
# Mounts under the folder, deepest first (volumes, rootfs overlays, shm, network namespaces).
awk -v d="$D/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null
done
for c in /sys/fs/cgroup/*/"$CG"; do
  [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
done
ip link del "$BRIDGE" 2>/dev/null
exit 0
`;
}

function containerdConfig(p: { dir: string; socket: string; runcRoot: string; cniConfDir: string }): string {
  return `version = 2
root = "${p.dir}/containerd/root"
state = "${p.dir}/containerd/state"
# Negative scores are forbidden on some machines; the default 0 is what every process gets.
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${p.socket}"

[ttrpc]
  address = "${p.socket}.ttrpc"

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "${p.dir}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  # Nothing can be pulled: the sandbox image is the locally built one, loaded before any pod.
  sandbox_image = "${PAUSE_IMAGE_REF}"
  # The kubelet asks for -998 for sandboxes and -997 for Guaranteed pods; where negative scores
  # are forbidden runc then fails every sandbox ("can't get final child's PID from pipe: EOF").
  # This clamps them to containerd's own score.
  restrict_oom_score_adj = true
  # Network namespaces inside the state folder instead of /var/run/netns: teardown unmounts them
  # with everything else under the folder.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${p.runcRoot}"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${p.cniConfDir}"
    max_conf_num = 1
`;
}

function cniConfig(p: {
  network: string;
  bridge: string;
  podCidr: string;
  gateway: string;
  ipamDir: string;
}) {
  return {
    cniVersion: '1.0.0',
    name: p.network,
    plugins: [
      {
        type: 'bridge',
        bridge: p.bridge,
        isGateway: true,
        // Nothing leaves the machine, so no masquerading; hairpin lets a pod reach itself
        // through its own Service IP.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: p.podCidr, gateway: p.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: p.ipamDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

function kubeletConfig(p: {
  dir: string;
  socket: string;
  cgroupRoot: string;
  ip: string;
  port: number;
  healthzPort: number;
  caCert: string;
  taint: boolean;
}): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://${p.socket}
address: ${p.ip}
port: ${p.port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${p.healthzPort}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${p.caCert}}
authorization: {mode: Webhook}
# This machine type mounts cgroup v1 controllers (cgroup2 only at /sys/fs/cgroup/unified) and
# has no systemd; every cgroup of the node lives under its own root.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${p.cgroupRoot}
failSwapOn: false
# Negative scores are forbidden here (the default is -999).
oomScoreAdj: 0
clusterDNS: [${p.ip}]
clusterDomain: cluster.local
resolvConf: ${p.dir}/resolv.conf
podLogsDir: ${p.dir}/pod-logs
volumePluginDir: ${p.dir}/volume-plugins
${p.taint ? `registerWithTaints:\n- {key: ${GPU_TAINT.key}, value: ${GPU_TAINT.value}, effect: ${GPU_TAINT.effect}}\n` : ''}# A test machine's disk is shared: never evict or collect images because of it.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 50
`;
}

/** Runs a command; throws with its output on failure. */
async function sh(command: string, args: string[], input?: string): Promise<string> {
  try {
    const child = run(command, args, { maxBuffer: 64 * 1024 * 1024 });
    if (input !== undefined) child.child.stdin?.end(input);
    return (await child).stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/**
 * Starts a control plane (etcd, kube-apiserver on the node's bridge address, controller manager,
 * scheduler) and one real node that passes for a GPU node of `nodeType`. Always call stop().
 */
export async function startRealNodeCluster(options: RealNodeOptions = {}): Promise<RealNodeCluster> {
  const unavailable = realNodeUnavailable();
  if (unavailable) throw new Error(`Cannot start a real node: ${unavailable}`);
  const verbose = options.verbose ?? true;
  const say = (message: string) => verbose && process.stderr.write(`[real-node] ${message}\n`);
  const started = Date.now();
  const nodeType = options.nodeType ?? 'H100';
  const bins: NodeBinaryPaths = await findNodeBinaries();
  await writeFile(MACHINE_LOCK, '', { flag: 'a' });
  say(`waiting for the machine's real-node lock ${MACHINE_LOCK}`);
  const unlock = await lockfile.lock(MACHINE_LOCK, {
    stale: 30_000,
    update: 5_000,
    retries: { retries: 400, minTimeout: 2_000, maxTimeout: 5_000, factor: 1 },
  });

  const id = randomBytes(3).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), 'pixtral-node-'));
  const name = `realnode-${id}`;
  const network = `pixtral-${id}`;
  const bridge = `pxnode${id}`;
  const cgroupRoot = `pixtral-node-${id}`;
  const socket = join(dir, 'containerd', 'containerd.sock');
  const runcRoot = join(dir, 'runc');
  const { podCidr, gateway } = freeSubnet();
  await writeFile(
    join(dir, TEARDOWN_SCRIPT),
    teardownScript({ dir, runcRoot, socket, cgroupRoot, network, bridge, kubeProxy: bins.kubeProxy }),
  );
  await chmod(join(dir, TEARDOWN_SCRIPT), 0o755);
  trackFolder(dir);
  startWatchdog(dir);

  const components: Component[] = [];
  let cp: ControlPlane | undefined;
  const stopAll = async () => {
    for (const component of [...components].reverse()) await component.stop();
    await cp?.stop();
    await sh('bash', [join(dir, TEARDOWN_SCRIPT)]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    untrackFolder(dir);
    await unlock().catch(() => undefined);
  };
  const waitFor = async (
    what: string,
    component: Component,
    check: () => Promise<unknown>,
    timeoutMs = 60_000,
  ) => {
    await eventually(
      async () => {
        component.assertRunning();
        await check();
      },
      { timeoutMs, intervalMs: 250 },
    ).catch((error: Error) => {
      throw new Error(
        `${what} not ready: ${error.message}\n${component.name}'s log ends:\n${tail(component.logPath)}`,
      );
    });
  };

  try {
    await mkdir(join(dir, 'logs'));
    // A node started by a harness without the lock (an older checkout) routes the Service range.
    const serviceRoute = (await sh('ip', ['route', 'show', SERVICE_CIDR])).trim();
    if (serviceRoute)
      throw new Error(
        `another real node is running on this machine (route "${serviceRoute}"); only one can run at a time`,
      );
    say(`bridge ${bridge} ${gateway} (pods ${podCidr}), node ${name}, state in ${dir}`);
    await sh('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    await sh('ip', ['link', 'set', bridge, 'up']);
    // The host's own connections to Service IPs leave by the bridge with its address as source.
    await sh('ip', ['route', 'add', SERVICE_CIDR, 'dev', bridge, 'src', gateway]);
    // Routing between pods and Service IPs; bridged traffic through iptables for kube-proxy's DNAT.
    await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    await writeFile('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
    // Docker sets the FORWARD policy to DROP; traffic between pods through a Service IP is
    // forwarded (DNAT on the host, back out the same bridge). Tagged with the network's name, so
    // teardown finds the rules.
    for (const direction of ['-i', '-o']) {
      await sh('iptables', [
        '-w',
        '-I',
        'FORWARD',
        direction,
        bridge,
        '-m',
        'comment',
        '--comment',
        `${network} real node bridge`,
        '-j',
        'ACCEPT',
      ]);
    }

    cp = await startControlPlane({
      ...options.controlPlane,
      controllerManager: true,
      scheduler: true,
      kwok: false,
      bindAddress: gateway,
      serviceAccountAdmission: true,
      verbose,
    });
    const controlPlane = cp;
    const kubeconfig = controlPlane.kubeconfigPath;

    // containerd
    const cniConfDir = join(dir, 'cni', 'net.d');
    await mkdir(cniConfDir, { recursive: true });
    await mkdir(join(dir, 'containerd'), { recursive: true });
    await writeFile(
      join(cniConfDir, '10-pixtral.conflist'),
      JSON.stringify(
        cniConfig({ network, bridge, podCidr, gateway, ipamDir: join(dir, 'cni', 'ipam') }),
        null,
        2,
      ),
    );
    await writeFile(join(dir, 'containerd.toml'), containerdConfig({ dir, socket, runcRoot, cniConfDir }));
    const containerd = new Component(dir, 'containerd', 'containerd', [
      '--config',
      join(dir, 'containerd.toml'),
    ]);
    components.push(containerd);
    say('starting containerd');
    containerd.start();
    const ctr = (args: string[]) => sh('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args]);
    await waitFor('containerd', containerd, () => ctr(['version']));

    const importImages = async (images: string[]) => {
      for (const image of images) {
        const began = Date.now();
        await sh('bash', [
          '-o',
          'pipefail',
          '-c',
          `docker save "$1" | ctr --address "$2" --namespace k8s.io images import - >/dev/null`,
          'import',
          image,
          socket,
        ]);
        say(`loaded ${image} into containerd (${Date.now() - began} ms)`);
      }
    };
    await importImages([PAUSE_IMAGE, ...(options.images ?? [])]);

    // cgroups: the kubelet wants its root to exist in every hierarchy it knows that is mounted
    // (hugetlb too, where a machine mounts it), and in the named systemd one.
    for (const controller of mountedHierarchies()) {
      const path = join('/sys/fs/cgroup', controller, cgroupRoot);
      await mkdir(path, { recursive: true });
      if (controller === 'cpuset') {
        for (const file of ['cpuset.cpus', 'cpuset.mems']) {
          await writeFile(join(path, file), readFileSync(join('/sys/fs/cgroup/cpuset', file), 'utf8'));
        }
      }
    }

    // kubelet, with a client certificate of its node identity from the cluster's CA
    const pkiDir = join(controlPlane.dir, 'pki');
    const cert = await issueClientCertificate(
      pkiDir,
      `kubelet-${name}`,
      `/O=system:nodes/CN=system:node:${name}`,
    );
    const b64 = (file: string) => readFileSync(file).toString('base64');
    const kubeletKubeconfig = join(dir, 'kubelet.kubeconfig');
    await writeFile(
      kubeletKubeconfig,
      `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: ${controlPlane.apiServerUrl}, certificate-authority-data: ${b64(controlPlane.pki.caCert)}}
users:
- name: u
  user: {client-certificate-data: ${b64(cert.cert)}, client-key-data: ${b64(cert.key)}}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
`,
      { mode: 0o600 },
    );
    await writeFile(join(dir, 'resolv.conf'), `nameserver ${gateway}\n`);
    const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics, dnsHealth] = await Promise.all(
      Array.from({ length: 5 }, () => freePort()),
    );
    await writeFile(
      join(dir, 'kubelet.yaml'),
      kubeletConfig({
        dir,
        socket,
        cgroupRoot,
        ip: gateway,
        port: kubeletPort as number,
        healthzPort: kubeletHealthz as number,
        caCert: controlPlane.pki.caCert,
        taint: options.taint ?? true,
      }),
    );
    const { instanceType, gpus } = INSTANCE_TYPES[nodeType];
    const kubelet = new Component(dir, 'kubelet', bins.kubelet, [
      `--config=${join(dir, 'kubelet.yaml')}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--root-dir=${join(dir, 'kubelet')}`,
      `--cert-dir=${join(dir, 'kubelet-pki')}`,
      `--hostname-override=${name}`,
      `--node-ip=${gateway}`,
      `--node-labels=node.kubernetes.io/instance-type=${instanceType},nvidia.com/gpu.present=true,nvidia.com/gpu.count=${gpus},nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3,pixtral.dev/real-node=true`,
      '--v=1',
    ]);
    components.push(kubelet);
    say('starting kubelet');
    kubelet.start();
    const core = controlPlane.kubeConfig().makeApiClient(CoreV1Api);
    await waitFor(
      'kubelet',
      kubelet,
      async () => {
        const node = await core.readNode({ name });
        if (node.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True')
          throw new Error(`node ${name} is not Ready`);
      },
      120_000,
    );
    // Extended resources are advertised by patching the node's status, as Kubernetes documents
    // for resources no device plugin manages; the stand-in workload needs no device.
    await core.patchNodeStatus(
      {
        name,
        body: [{ op: 'add', path: '/status/capacity/nvidia.com~1gpu', value: String(gpus) }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    // The kubelet copies it into allocatable on its next status update (every 10 s).
    await waitFor(
      'nvidia.com/gpu in the node allocatable',
      kubelet,
      async () => {
        const node = await core.readNode({ name });
        if (node.status?.allocatable?.['nvidia.com/gpu'] !== String(gpus))
          throw new Error(`node ${name} does not advertise nvidia.com/gpu yet`);
      },
      60_000,
    );

    // kube-proxy
    const kubeProxy = new Component(dir, 'kube-proxy', bins.kubeProxy, [
      `--kubeconfig=${kubeconfig}`,
      '--proxy-mode=iptables',
      `--cluster-cidr=${podCidr}`,
      `--hostname-override=${name}`,
      `--healthz-bind-address=127.0.0.1:${proxyHealthz}`,
      `--metrics-bind-address=127.0.0.1:${proxyMetrics}`,
      '--oom-score-adj=0',
      // conntrack sysctls are the machine's, not a test's to change
      '--conntrack-max-per-core=0',
      '--v=1',
    ]);
    components.push(kubeProxy);
    say('starting kube-proxy');
    kubeProxy.start();
    await waitFor('kube-proxy', kubeProxy, async () => {
      const response = await fetch(`http://127.0.0.1:${proxyHealthz}/healthz`);
      if (!response.ok) throw new Error(`kube-proxy /healthz answered ${response.status}`);
    });

    // CoreDNS on the bridge address, the cluster DNS every pod's resolv.conf names
    await writeFile(
      join(dir, 'Corefile'),
      `.:53 {
    bind ${gateway}
    errors
    health 127.0.0.1:${dnsHealth}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
}
`,
    );
    const coredns = new Component(dir, 'coredns', bins.coredns, ['-conf', join(dir, 'Corefile')]);
    components.push(coredns);
    say('starting CoreDNS');
    coredns.start();
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([gateway]);
    await waitFor('CoreDNS', coredns, () => resolver.resolve4('kubernetes.default.svc.cluster.local'));

    say(`ready in ${Date.now() - started} ms`);
    return {
      ...controlPlane,
      node: { name, ip: gateway, podCidr, bridge, dir },
      importImages,
      ctr,
      stop: async () => {
        say('stopping');
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * What a real node left on the machine, as readable lines (empty when teardown was complete):
 * processes naming its folder, mounts under it, the folder, its bridge, its cgroups, the
 * kubelet's and kube-proxy's iptables chains (KUBE-*) and rules naming its CNI network.
 */
export function realNodeLeftovers(node: { dir: string; bridge: string }): string[] {
  const id = node.bridge.replace('pxnode', '');
  const left: string[] = [];
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  for (const line of ps.split('\n')) {
    if (line.includes(node.dir) && !line.includes('pixtral-cp-watchdog'))
      left.push(`process: ${line.trim()}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint?.startsWith(`${node.dir}/`)) left.push(`mount: ${mountPoint}`);
  }
  if (existsSync(node.dir)) left.push(`folder: ${node.dir}`);
  if (existsSync(join('/sys/class/net', node.bridge))) left.push(`bridge: ${node.bridge}`);
  for (const controller of mountedHierarchies()) {
    if (existsSync(join('/sys/fs/cgroup', controller, `pixtral-node-${id}`)))
      left.push(`cgroup: ${controller}/pixtral-node-${id}`);
  }
  for (const command of ['iptables-save', 'ip6tables-save']) {
    for (const table of ['nat', 'filter', 'mangle']) {
      const rules = execFileSync(command, ['-t', table], { encoding: 'utf8' });
      for (const line of rules.split('\n')) {
        if (line.startsWith(':KUBE-') || line.includes(`pixtral-${id}`))
          left.push(`${command} ${table}: ${line}`);
      }
    }
  }
  return left;
}
