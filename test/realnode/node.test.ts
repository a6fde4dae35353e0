/**
 * The real node itself: a pod from the locally built runtime image runs under the kubelet and
 * containerd as its non-root user, and another pod reaches it through a Service by DNS name
 * (CoreDNS + kube-proxy); the host reaches it on the bridge and through the Service IP.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/index.ts';
import { type RealNodeCluster, startRealNodeCluster } from '../harness/real-node.ts';
import { buildImage } from '../image/docker.ts';

const RUNTIME_IMAGE = 'pixtral-runtime:realnode';
let cluster: RealNodeCluster;
let core: CoreV1Api;

const restricted = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

beforeAll(async () => {
  await buildImage('runtime', 'realnode');
  await buildImage('pause', 'realnode');
  cluster = await startRealNodeCluster({ images: [RUNTIME_IMAGE] });
  core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({
    body: {
      metadata: {
        name: 'real',
        labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    },
  });
  // The ServiceAccount admission refuses pods until the controller manager made `default`.
  await eventually(() => core.readNamespacedServiceAccount({ name: 'default', namespace: 'real' }), {
    timeoutMs: 60_000,
  });
});

afterAll(async () => {
  await cluster?.stop();
});

const SERVER = `require('node:http').createServer((q, s) => s.end('hello from ' + process.getuid())).listen(8080)`;

describe('a real node', () => {
  it('runs a pod from the local runtime image as its non-root user, reached through a Service by DNS name', async () => {
    await core.createNamespacedPod({
      namespace: 'real',
      body: {
        metadata: { name: 'server', labels: { app: 'server' } },
        spec: {
          nodeName: undefined,
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            {
              name: 'server',
              image: RUNTIME_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              command: ['node', '-e', SERVER],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              securityContext: restricted,
            },
          ],
        },
      },
    });
    await core.createNamespacedService({
      namespace: 'real',
      body: {
        metadata: { name: 'server' },
        spec: { selector: { app: 'server' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    const pod = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ name: 'server', namespace: 'real' });
        expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
        return p;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(pod.spec?.nodeName).toBe(cluster.node.name);
    expect(pod.status?.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\//);
    // From the host: the pod's address on the bridge, and the Service IP through kube-proxy.
    const podIp = pod.status?.podIP as string;
    expect(podIp.startsWith(cluster.node.podCidr.slice(0, -4))).toBe(true);
    expect(await (await fetch(`http://${podIp}:8080/`)).text()).toBe('hello from 65532');
    const service = await core.readNamespacedService({ name: 'server', namespace: 'real' });
    await eventually(async () => {
      expect(await (await fetch(`http://${service.spec?.clusterIP}/`)).text()).toBe('hello from 65532');
    });

    // From another pod: by DNS name, through CoreDNS and the Service IP.
    await core.createNamespacedPod({
      namespace: 'real',
      body: {
        metadata: { name: 'client' },
        spec: {
          restartPolicy: 'Never',
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            {
              name: 'client',
              image: RUNTIME_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              command: [
                'node',
                '-e',
                `fetch('http://server.real.svc.cluster.local/').then((r) => r.text()).then((t) => { console.log(t); process.exit(t === 'hello from 65532' ? 0 : 1); })`,
              ],
              securityContext: restricted,
            },
          ],
        },
      },
    });
    const client = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ name: 'client', namespace: 'real' });
        expect(['Succeeded', 'Failed']).toContain(p.status?.phase);
        return p;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const log = await core.readNamespacedPodLog({ name: 'client', namespace: 'real' });
    expect({ phase: client.status?.phase, log: log.trim() }).toEqual({
      phase: 'Succeeded',
      log: 'hello from 65532',
    });
  });

  it('passes for an H100 node: instance type, GPU taint, nvidia.com/gpu capacity', async () => {
    const node = await core.readNode({ name: cluster.node.name });
    expect(node.metadata?.labels?.['node.kubernetes.io/instance-type']).toBe('H100-1-80G');
    expect(node.spec?.taints).toContainEqual({
      key: 'nvidia.com/gpu',
      value: 'present',
      effect: 'NoSchedule',
    });
    expect(node.status?.allocatable?.['nvidia.com/gpu']).toBe('1');
  });

  it('updates a Secret volume in a running pod: the delay a key rotation takes through the kubelet', async () => {
    await core.createNamespacedSecret({
      namespace: 'real',
      body: { metadata: { name: 'keys' }, stringData: { hashes: 'first' } },
    });
    const reader = `require('node:http').createServer((q, s) => s.end(require('node:fs').readFileSync('/keys/hashes'))).listen(8080)`;
    await core.createNamespacedPod({
      namespace: 'real',
      body: {
        metadata: { name: 'reader' },
        spec: {
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            {
              name: 'reader',
              image: RUNTIME_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              command: ['node', '-e', reader],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              securityContext: restricted,
              volumeMounts: [{ name: 'keys', mountPath: '/keys', readOnly: true }],
            },
          ],
          volumes: [{ name: 'keys', secret: { secretName: 'keys' } }],
        },
      },
    });
    const podIp = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ name: 'reader', namespace: 'real' });
        expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
        return p.status?.podIP as string;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(await (await fetch(`http://${podIp}:8080/`)).text()).toBe('first');
    // Right after start-up the kubelet syncs the pod on every probe change (and remounts Secret
    // volumes then): measure in the steady state a rotation meets, once those have settled.
    await new Promise((r) => setTimeout(r, 20_000));
    const changed = Date.now();
    await core.replaceNamespacedSecret({
      name: 'keys',
      namespace: 'real',
      body: { metadata: { name: 'keys' }, stringData: { hashes: 'second' } },
    });
    await eventually(async () => expect(await (await fetch(`http://${podIp}:8080/`)).text()).toBe('second'), {
      timeoutMs: 180_000,
      intervalMs: 250,
    });
    const delay = (Date.now() - changed) / 1000;
    process.stderr.write(
      `[realnode] the kubelet updated the Secret volume ${delay.toFixed(1)} s after the change\n`,
    );
    // The same pod, no restart: the kubelet rewrote the mounted files in place.
    const pod = await core.readNamespacedPod({ name: 'reader', namespace: 'real' });
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });
});
