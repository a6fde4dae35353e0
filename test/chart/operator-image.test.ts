/**
 * The operator image with the chart's identity: `helm install` into the suite's real cluster,
 * then run the image the chart's Deployment names, with that Deployment's environment, its
 * ConfigMap and a token of its ServiceAccount, in a testcontainers container with the pod's
 * security settings. Host network: the suite's API server listens on 127.0.0.1 only. Caches must
 * sync (every list/watch allowed), the Lease must be taken, a PixtralDeployment must get its
 * status written, and nothing may be forbidden.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freshNamespace, sharedControlPlane } from '../harness/index.ts';
import { podLikeContainer, type Running } from '../image/containers.ts';
import { buildImage, dockerUnavailable, freePort, ROOT, run } from '../image/docker.ts';

const CHART = join(ROOT, 'charts', 'pixtral-operator');
const cluster = sharedControlPlane();
const unavailable = dockerUnavailable();
if (unavailable) console.warn(`[operator image test] SKIPPED: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('operator image running as the chart installs it', () => {
  const release = `img-${randomBytes(3).toString('hex')}`;
  const fullname = `${release}-pixtral-operator`;
  const dir = mkdtempSync(join(tmpdir(), 'pxd-operator-image-'));
  const helmHome = join(dir, 'helm');
  let namespace: string;
  let users: string;
  let operator: Running | undefined;

  const helm = (args: string[]) =>
    run(cluster.bins.helm, [...args, '--kubeconfig', cluster.kubeconfigPath], {
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
    });
  const kubectlJson = async (args: string[]) => {
    const result = await cluster.kubectl([...args, '-o', 'json']);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    await buildImage('operator', 'image-test');
    const kc = cluster.kubeConfig();
    namespace = await freshNamespace(kc, 'operator-image');
    users = await freshNamespace(kc, 'operator-image-users');
    // One watched namespace: the shared cluster's other tests run operators of their own.
    const install = await helm([
      'install',
      release,
      CHART,
      '-n',
      namespace,
      '--set',
      `watchNamespace=${users}`,
    ]);
    if (install.code !== 0) throw new Error(`helm install failed: ${install.stderr}`);
  }, 600_000);

  afterAll(async () => {
    await operator?.stop();
    await helm(['uninstall', release, '-n', namespace]);
    await cluster.kubectl(['delete', 'namespace', namespace, users, '--wait=false']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs its caches, takes the Lease and writes status with only the chart RBAC', async ({
    onTestFailed,
  }) => {
    const deployment = await kubectlJson(['get', 'deployment', fullname, '-n', namespace]);
    const spec = deployment.spec.template.spec.containers[0] as {
      image: string;
      env: Array<{ name: string; value?: string }>;
    };
    const configMap = await kubectlJson(['get', 'configmap', `${fullname}-config`, '-n', namespace]);
    const token = await cluster.kubectl([
      'create',
      'token',
      deployment.spec.template.spec.serviceAccountName,
      '-n',
      namespace,
      '--duration=1h',
    ]);
    expect(token.code).toBe(0);

    // What the kubelet would mount: the ConfigMap, and the ServiceAccount's credentials.
    const configDir = join(dir, 'config');
    const kubeDir = join(dir, 'kube');
    // The container runs as uid 65532: every folder on the way must be searchable.
    chmodSync(dir, 0o755);
    for (const d of [configDir, kubeDir]) mkdirSync(d, { mode: 0o755 });
    writeFileSync(join(configDir, 'config.json'), configMap.data['config.json'], { mode: 0o644 });
    const caData = cluster.kubeConfig().getCurrentCluster()?.caData;
    writeFileSync(
      join(kubeDir, 'config'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'test', cluster: { server: cluster.apiServerUrl, 'certificate-authority-data': caData } },
        ],
        users: [{ name: 'operator', user: { token: token.stdout.trim() } }],
        contexts: [{ name: 'operator', context: { cluster: 'test', user: 'operator' } }],
        'current-context': 'operator',
      }),
      { mode: 0o644 },
    );

    const port = await freePort();
    const podName = `${fullname}-0`;
    const env: Record<string, string> = {
      ...Object.fromEntries(
        spec.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]),
      ),
      POD_NAME: podName,
      POD_NAMESPACE: namespace,
      PXD_HEALTH_PORT: String(port),
      PXD_HEALTH_HOST: '127.0.0.1',
      PXD_KUBECONFIG: '/kube/config',
    };
    const container = podLikeContainer(spec.image)
      .withNetworkMode('host')
      .withBindMounts([
        { source: configDir, target: '/etc/pixtral-operator', mode: 'ro' },
        { source: kubeDir, target: '/kube', mode: 'ro' },
      ])
      .withEnvironment(env)
      // Every informer has listed and watches: what /readyz reports as ready.
      .withWaitStrategy(Wait.forLogMessage(/"msg":"Caches synced"/))
      .withStartupTimeout(90_000);
    const running = await container.run();
    operator = running;
    onTestFailed(() => console.error(`operator wrote:\n${running.output()}`));
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status, await ready.text()).toBe(200);

    await eventually(
      async () => {
        const lease = await kubectlJson(['get', 'lease', fullname, '-n', namespace]);
        expect(lease.spec.holderIdentity).toMatch(new RegExp(`^${podName}`));
      },
      { timeoutMs: 60_000 },
    );

    const applied = await cluster.kubectl([
      'apply',
      '-n',
      users,
      '-f',
      join(ROOT, 'crds', 'samples', 'minimal.yaml'),
    ]);
    expect(applied.stderr).toBe('');
    const pxd = await eventually(
      async () => {
        const object = await kubectlJson(['get', 'pixtraldeployment', 'vision', '-n', users]);
        if (!object.status?.uuid) throw new Error('no status.uuid yet');
        return object;
      },
      { timeoutMs: 60_000 },
    );
    expect(pxd.status.phase).toBeDefined();

    await cluster.kubectl(['delete', 'pixtraldeployment', 'vision', '-n', users, '--wait=false']);
    // SIGTERM: the operator releases its Lease and exits 0 within the pod's grace period.
    expect(await running.stop(30_000)).toBe(0);
    // RBAC denials read `... is forbidden: User "system:serviceaccount:..." cannot ...` (HTTP 403).
    const forbidden = running
      .output()
      .split('\n')
      .filter((line) => /forbidden: User|\(403 /.test(line));
    expect(forbidden).toEqual([]);
  });
});
