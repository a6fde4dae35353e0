/**
 * The Helm chart against the real helm v4 binary and the suite's real kube-apiserver: lint,
 * render, server-side validation of every rendered object, a real install whose RBAC is checked
 * with `kubectl auth can-i` as the operator's ServiceAccount, and an uninstall that cleans up.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { standardLabels } from '../../operator/src/builders/labels.ts';
import { HTTP_PORT } from '../../operator/src/builders/ports.ts';
import { renderValuesSchema, VALUES_SCHEMA } from '../../scripts/gen-chart-schema.ts';
import { chartCrdDrift } from '../../scripts/sync-chart-crds.ts';
import { aPixtralDeployment } from '../fixtures/pixtral-deployment.ts';
import { freshNamespace, installCrds, sharedControlPlane } from '../harness/index.ts';

const CHART = join(import.meta.dirname, '..', '..', 'charts', 'pixtral-operator');
const KARPENTER_CONFIG = {
  baseDomain: 'inference.example.com',
  nodePools: {
    provider: 'karpenter',
    nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
  },
};
const THIRD_PARTY_CRDS = join(import.meta.dirname, '..', 'fixtures', 'crds');
const cluster = sharedControlPlane();
// Helm keeps repositories, caches and plugins in these folders: a private set per run.
const helmHome = mkdtempSync(join(tmpdir(), 'pxd-helm-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function helm(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cluster.bins.helm,
      [...args, '--kubeconfig', cluster.kubeconfigPath],
      {
        maxBuffer: 16 * 1024 * 1024,
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(helmHome, 'cache'),
          HELM_CONFIG_HOME: join(helmHome, 'config'),
          HELM_DATA_HOME: join(helmHome, 'data'),
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function helmOk(args: string[]): Promise<string> {
  const run = await helm(args);
  if (run.code !== 0)
    throw new Error(`helm ${args.join(' ')} failed (${run.code}):\n${run.stderr}${run.stdout}`);
  return run.stdout;
}

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;

function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

describe('chart files', () => {
  it('carries exactly the generated CRDs of crds/ (node scripts/sync-chart-crds.ts)', () => {
    expect(chartCrdDrift()).toEqual([]);
  });

  it("validates config with the operator's own schema (node scripts/gen-chart-schema.ts)", async () => {
    const current = readFileSync(VALUES_SCHEMA, 'utf8');
    expect(renderValuesSchema(current)).toBe(current);
    const bad = await helm(['template', 'r', CHART, '--set', 'config.baseDomain=Not_A_Domain']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('/config/baseDomain');
    // A configured weights source: the model's name is a key, so it goes in as JSON.
    const source = (model: string, revision: string) =>
      `config=${JSON.stringify({ weights: { sources: { [model]: { repo: 'platform/copy', revision, files: [{ path: 'tekken.json', sizeBytes: 1, sha256: 'a'.repeat(64) }] } } } })}`;
    const good = await helm([
      'template',
      'r',
      CHART,
      '--set-json',
      source('mistral/pixtral-12b-2409:bf16', 'c'.repeat(40)),
    ]);
    expect(good.code, good.stderr).toBe(0);
    const unknown = await helm([
      'template',
      'r',
      CHART,
      '--set-json',
      source('example/other:bf16', 'c'.repeat(40)),
    ]);
    expect(unknown.code).not.toBe(0);
    // helm 4.3.1 prints a wrong location for a propertyNames failure; the name and the choice are right.
    expect(unknown.stderr).toContain("invalid propertyName 'example/other:bf16'");
    expect(unknown.stderr).toContain("value must be 'mistral/pixtral-12b-2409:bf16'");
    const branch = await helm([
      'template',
      'r',
      CHART,
      '--set-json',
      source('mistral/pixtral-12b-2409:bf16', 'main'),
    ]);
    expect(branch.code).not.toBe(0);
    expect(branch.stderr).toContain('revision');
  });

  it('deploys the image version the project builds (appVersion = package.json version)', () => {
    const chart = readFileSync(join(CHART, 'Chart.yaml'), 'utf8');
    const { version } = JSON.parse(readFileSync(join(CHART, '..', '..', 'package.json'), 'utf8'));
    expect(chart).toContain(`appVersion: "${version}"`);
  });

  it('passes helm lint --strict with the default values and with every optional part on', async () => {
    await helmOk(['lint', '--strict', CHART]);
    await helmOk([
      'lint',
      '--strict',
      CHART,
      '--set',
      'watchNamespace=team-a,metrics.serviceMonitor.enabled=true,replicaCount=1,metrics.prometheusRule.enabled=true,metrics.grafanaDashboard.enabled=true,metrics.servingPodMonitor.enabled=true',
    ]);
  });

  it('refuses values the schema or the templates forbid, naming the value', async () => {
    const badReplicas = await helm(['template', 'r', CHART, '--set', 'replicaCount=-1']);
    expect(badReplicas.code).not.toBe(0);
    expect(badReplicas.stderr).toContain('replicaCount');
    const typo = await helm(['template', 'r', CHART, '--set', 'replicas=3']);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('replicas');
    const noLeader = await helm(['template', 'r', CHART, '--set', 'leaderElection.enabled=false']);
    expect(noLeader.code).not.toBe(0);
    expect(noLeader.stderr).toContain('replicaCount > 1 needs leaderElection.enabled=true');
  });

  it('renders a ServiceMonitor that selects the metrics Service only when asked', async () => {
    const off = parseManifests(await helmOk(['template', 'r', CHART, '-n', 'ops']));
    expect(off.map((m) => m.kind)).not.toContain('ServiceMonitor');
    // Least privilege: no NodePool rights unless the configuration uses Karpenter.
    const rules = (
      off.find((m) => m.kind === 'ClusterRole') as Manifest & { rules: { apiGroups: string[] }[] }
    ).rules;
    expect(rules.flatMap((r) => r.apiGroups)).not.toContain('karpenter.sh');
    const on = parseManifests(
      await helmOk(['template', 'r', CHART, '-n', 'ops', '--set', 'metrics.serviceMonitor.enabled=true']),
    );
    const monitor = on.find((m) => m.kind === 'ServiceMonitor') as Manifest & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string }> };
    };
    const service = on.find((m) => m.kind === 'Service') as Manifest & {
      metadata: { labels: Record<string, string> };
      spec: { ports: Array<{ name: string }> };
    };
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0]?.port);
  });

  it('scrapes the serving pods of every PixtralDeployment with a PodMonitor, only when asked', async () => {
    const off = parseManifests(await helmOk(['template', 'r', CHART, '-n', 'ops']));
    expect(off.map((m) => m.kind)).not.toContain('PodMonitor');
    const on = parseManifests(
      await helmOk(['template', 'r', CHART, '-n', 'ops', '--set', 'metrics.servingPodMonitor.enabled=true']),
    );
    const monitor = on.find((m) => m.kind === 'PodMonitor') as Manifest & {
      spec: {
        namespaceSelector: { any?: boolean };
        selector: { matchLabels: Record<string, string> };
        podMetricsEndpoints: { port: string; path: string }[];
      };
    };
    expect(monitor.spec.namespaceSelector).toEqual({ any: true });
    // The labels the operator gives serving pods, on the port the sidecar serves /metrics on.
    const pod = aPixtralDeployment();
    expect(standardLabels(pod, 'server')).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.podMetricsEndpoints).toEqual([
      expect.objectContaining({ port: HTTP_PORT.name, path: '/metrics' }),
    ]);
    const scoped = parseManifests(
      await helmOk([
        'template',
        'r',
        CHART,
        '-n',
        'ops',
        '--set',
        'metrics.servingPodMonitor.enabled=true,watchNamespace=team-a,watchNamespaces={team-b,team-c}',
      ]),
    ).find((m) => m.kind === 'PodMonitor') as typeof monitor;
    expect(scoped.spec.namespaceSelector).toEqual({ matchNames: ['team-b', 'team-c', 'team-a'] });
  });

  it('ships the alert rules as a PrometheusRule and the dashboard as a Grafana sidecar ConfigMap, only when asked', async () => {
    const off = parseManifests(await helmOk(['template', 'r', CHART, '-n', 'ops'])).map(
      (m) => `${m.kind}/${(m as { metadata: { name: string } }).metadata.name}`,
    );
    expect(off.filter((m) => m.startsWith('PrometheusRule/') || m.endsWith('-dashboard'))).toEqual([]);
    const on = parseManifests(
      await helmOk([
        'template',
        'r',
        CHART,
        '-n',
        'ops',
        '--set',
        'metrics.prometheusRule.enabled=true,metrics.prometheusRule.labels.release=kps,metrics.grafanaDashboard.enabled=true,metrics.grafanaDashboard.namespace=monitoring',
      ]),
    );
    const rule = on.find((m) => m.kind === 'PrometheusRule') as Manifest & {
      metadata: { labels: Record<string, string> };
      spec: unknown;
    };
    expect(rule.metadata.labels.release).toBe('kps');
    // The rules file verbatim: Helm must not have templated its {{ $labels }}.
    expect(rule.spec).toEqual(parse(readFileSync(join(CHART, 'files', 'alerts.yaml'), 'utf8')));
    const dashboard = on.find(
      (m) =>
        m.kind === 'ConfigMap' && (m as { metadata: { name: string } }).metadata.name.endsWith('-dashboard'),
    ) as Manifest & {
      metadata: { namespace: string; labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    expect(dashboard.metadata.namespace).toBe('monitoring');
    expect(JSON.parse(dashboard.data['pixtral-operator.json'] ?? '')).toEqual(
      JSON.parse(readFileSync(join(CHART, 'files', 'dashboard.json'), 'utf8')),
    );
  });
});

describe('chart on a real API server', () => {
  let namespace: string;
  let watched: string;
  const release = `pxd-${Math.random().toString(36).slice(2, 8)}`;
  const fullname = `${release}-pixtral-operator`;
  const serviceAccount = `system:serviceaccount:`;

  beforeAll(async () => {
    // `kubectl auth can-i` maps a resource through discovery: the KEDA and Karpenter APIs must exist.
    await installCrds(cluster.kubeConfig(), [
      join(THIRD_PARTY_CRDS, 'keda.sh_scaledobjects.yaml'),
      join(THIRD_PARTY_CRDS, 'karpenter.sh_nodepools.yaml'),
    ]);
    namespace = await freshNamespace(cluster.kubeConfig(), 'chart');
    watched = await freshNamespace(cluster.kubeConfig(), 'chart-watched');
  });

  afterAll(async () => {
    await helm(['uninstall', release, '-n', namespace]);
    await cluster.kubectl(['delete', 'namespace', namespace, watched, '--wait=false']);
  });

  it('renders objects that all pass server-side dry-run validation (cluster-wide and single-namespace)', async () => {
    // One namespace keeps a ClusterRole only to read the two optional CRDs by name.
    const clusterWide = ['ClusterRole', 'ClusterRoleBinding'];
    const variants: [extra: string[], clusterKinds: string[]][] = [
      [[], clusterWide],
      [['--set', `watchNamespace=${watched}`], clusterWide],
      // A list of namespaces: a Role and RoleBinding in each, the operator told all of them.
      [['--set', `watchNamespaces={${watched},${namespace}}`], clusterWide],
    ];
    for (const [extra, clusterKinds] of variants) {
      const rendered = await helmOk([
        'template',
        release,
        CHART,
        '-n',
        namespace,
        '--include-crds',
        ...extra,
      ]);
      const kinds = parseManifests(rendered).map((m) => m.kind);
      expect(kinds).toEqual(
        expect.arrayContaining([
          'CustomResourceDefinition',
          'ServiceAccount',
          'ConfigMap',
          ...clusterKinds,
          'Role',
          'RoleBinding',
          'Service',
          'Deployment',
          'PodDisruptionBudget',
        ]),
      );
      expect(kinds.filter((k) => clusterWide.includes(k))).toEqual(clusterKinds);
      if (extra.join(' ').includes('watchNamespaces')) {
        const roles = parseManifests(rendered).filter(
          (m) => m.kind === 'Role' && !(m.metadata as { name: string }).name.endsWith('leader-election'),
        );
        expect(roles.map((m) => (m.metadata as { namespace: string }).namespace).sort()).toEqual(
          [watched, namespace].sort(),
        );
        expect(rendered).toContain(`value: "${watched},${namespace}"`);
      }
      // Strict field validation: an unknown or misplaced field in a template fails here.
      const dryRun = await cluster.kubectl(
        [
          'apply',
          '--server-side',
          '--dry-run=server',
          '--validate=strict',
          '--field-manager=chart-test',
          '-f',
          '-',
        ],
        { input: rendered },
      );
      expect(dryRun.stderr).toBe('');
      expect(dryRun.code).toBe(0);
      expect(dryRun.stdout.trim().split('\n')).toHaveLength(kinds.length);
    }
  });

  it('installs for real, grants the operator exactly what it needs, and uninstalls cleanly', async () => {
    await helmOk([
      'install',
      release,
      CHART,
      '-n',
      namespace,
      '--set-json',
      `config=${JSON.stringify(KARPENTER_CONFIG)}`,
    ]);

    const deployment = JSON.parse(
      (await cluster.kubectl(['get', 'deployment', fullname, '-n', namespace, '-o', 'json'])).stdout,
    );
    expect(deployment.spec.replicas).toBe(2);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe('ghcr.io/pixtral-operator/operator:0.1.0');
    const configMap = JSON.parse(
      (await cluster.kubectl(['get', 'configmap', `${fullname}-config`, '-n', namespace, '-o', 'json']))
        .stdout,
    );
    expect(JSON.parse(configMap.data['config.json'])).toEqual(KARPENTER_CONFIG);
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    const env = Object.fromEntries(
      container.env
        .filter((e: { value?: string }) => e.value !== undefined)
        .map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      PXD_LEADER_ELECT: 'true',
      PXD_LEADER_ELECTION_NAMESPACE: namespace,
      OPERATOR_CONFIG_FILE: '/etc/pixtral-operator/config.json',
    });
    // V8's heap sized under the memory limit (docs/scale.md): the old-space cap below the limit.
    const oldSpaceMib = Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS ?? '')?.[1]);
    expect(oldSpaceMib).toBeGreaterThan(0);
    expect(oldSpaceMib * 1024 * 1024).toBeLessThan(bytesOf(container.resources.limits.memory));
    for (const [kind, name] of [
      ['serviceaccount', fullname],
      ['service', `${fullname}-metrics`],
      ['configmap', `${fullname}-config`],
      ['poddisruptionbudget', fullname],
      ['role', `${fullname}-leader-election`],
      ['rolebinding', `${fullname}-leader-election`],
    ] as const) {
      expect((await cluster.kubectl(['get', kind, name, '-n', namespace])).code, `${kind}/${name}`).toBe(0);
    }
    expect((await cluster.kubectl(['get', 'clusterrole', fullname])).code).toBe(0);
    expect((await cluster.kubectl(['get', 'crd', 'pixtraldeployments.inference.pixtral.dev'])).code).toBe(0);

    const as = `${serviceAccount}${namespace}:${fullname}`;
    const canI = async (args: string[]): Promise<string> => {
      const run = await cluster.kubectl(['auth', 'can-i', `--as=${as}`, ...args]);
      return `${args.join(' ')} -> ${run.stdout.trim() || run.stderr.trim()}`;
    };
    const allowed = [
      ['watch', 'pixtraldeployments.inference.pixtral.dev', '-n', watched],
      ['patch', 'pixtraldeployments.inference.pixtral.dev', '--subresource=status', '-n', watched],
      ['update', 'pixtraldeployments.inference.pixtral.dev', '--subresource=finalizers', '-n', watched],
      ['patch', 'deployments.apps', '-n', watched],
      ['create', 'services', '-n', watched],
      ['create', 'secrets', '-n', watched],
      ['patch', 'persistentvolumeclaims', '-n', watched],
      ['delete', 'jobs.batch', '-n', watched],
      ['patch', 'ingresses.networking.k8s.io', '-n', watched],
      ['patch', 'poddisruptionbudgets.policy', '-n', watched],
      ['patch', 'scaledobjects.keda.sh', '-n', watched],
      ['patch', 'nodepools.karpenter.sh'],
      ['list', 'pods', '-n', watched],
      ['watch', 'customresourcedefinitions.apiextensions.k8s.io/scaledobjects.keda.sh'],
      ['list', 'events', '-n', watched],
      ['create', 'events.events.k8s.io', '-n', watched],
      ['update', 'leases.coordination.k8s.io', '-n', namespace],
      ['create', 'leases.coordination.k8s.io', '-n', namespace],
    ];
    const denied = [
      ['update', 'leases.coordination.k8s.io', '-n', watched],
      ['create', 'pods', '-n', watched],
      ['create', 'pods', '--subresource=exec', '-n', watched],
      // The operator reads no Node and writes Events through events.k8s.io only.
      ['watch', 'nodes'],
      ['delete', 'nodes'],
      ['create', 'events', '-n', watched],
      ['get', 'configmaps', '-n', watched],
      ['create', 'clusterroles.rbac.authorization.k8s.io'],
      ['create', 'rolebindings.rbac.authorization.k8s.io', '-n', watched],
      ['delete', 'pixtraldeployments.inference.pixtral.dev', '-n', watched],
      ['delete', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['get', 'customresourcedefinitions.apiextensions.k8s.io/pixtraldeployments.inference.pixtral.dev'],
      // Secrets: never updated or deleted (the generated key is created once, hashes are applied).
      ['update', 'secrets', '-n', watched],
      ['delete', 'secrets', '-n', watched],
      ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
    ];
    const answers = await Promise.all([...allowed, ...denied].map(canI));
    expect(answers).toEqual([
      ...allowed.map((a) => `${a.join(' ')} -> yes`),
      ...denied.map((a) => `${a.join(' ')} -> no`),
    ]);

    await helmOk(['uninstall', release, '-n', namespace, '--wait', '--timeout', '60s']);
    const left = await cluster.kubectl([
      'get',
      'deployment,service,serviceaccount,configmap,poddisruptionbudget,role,rolebinding',
      '-n',
      namespace,
      '-l',
      `app.kubernetes.io/instance=${release}`,
      '-o',
      'name',
    ]);
    expect(left.stdout.trim()).toBe('');
    expect((await cluster.kubectl(['get', 'clusterrole', fullname])).code).not.toBe(0);
    expect((await cluster.kubectl(['get', 'clusterrolebinding', fullname])).code).not.toBe(0);
    // Helm never deletes CRDs (deleting one deletes every PixtralDeployment with it).
    expect((await cluster.kubectl(['get', 'crd', 'pixtraldeployments.inference.pixtral.dev'])).code).toBe(0);
    expect((await helmOk(['list', '-n', namespace, '-q'])).trim()).toBe('');
  });
});

/** Bytes of a Kubernetes memory quantity in Mi or Gi (what the chart's values use). */
function bytesOf(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1) * 1024 * 1024;
}
