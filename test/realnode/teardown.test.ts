/**
 * A real node leaves nothing behind: no process, container, mount, network namespace, cgroup,
 * iptables rule or bridge, after stop() and after the test process is SIGKILLed mid-run (the
 * watchdog runs the node's teardown script).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/index.ts';
import {
  PAUSE_IMAGE,
  type RealNodeCluster,
  realNodeLeftovers,
  startRealNodeCluster,
} from '../harness/real-node.ts';
import { buildImage } from '../image/docker.ts';

/** A pod that keeps running: containers, a network namespace, mounts and a veth on the bridge. */
async function runPod(cluster: Pick<RealNodeCluster, 'kubeConfig'>): Promise<void> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  await eventually(() => core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }), {
    timeoutMs: 60_000,
  });
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'sleeper' },
      spec: {
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }],
        containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'IfNotPresent' }],
      },
    },
  });
  await eventually(
    async () => {
      const pod = await core.readNamespacedPod({ name: 'sleeper', namespace: 'default' });
      expect(pod.status?.phase).toBe('Running');
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}

beforeAll(async () => {
  await buildImage('pause', 'dev');
});

describe('real node teardown', () => {
  it('stop() leaves nothing behind', async () => {
    const cluster = await startRealNodeCluster({ verbose: false });
    await runPod(cluster);
    expect(realNodeLeftovers(cluster.node).length).toBeGreaterThan(3);
    await cluster.stop();
    expect(realNodeLeftovers(cluster.node)).toEqual([]);
  });

  it('a SIGKILLed test process leaves nothing behind', async () => {
    const script = `
      import { startRealNodeCluster } from ${JSON.stringify(join(import.meta.dirname, '..', 'harness', 'real-node.ts'))};
      import { CoreV1Api } from '@kubernetes/client-node';
      const cluster = await startRealNodeCluster({ verbose: false });
      process.stdout.write(JSON.stringify({ node: cluster.node, kubeconfig: cluster.kubeconfigPath }) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: join(import.meta.dirname, '..', '..'),
    });
    const started = await new Promise<{ node: RealNodeCluster['node']; kubeconfig: string }>(
      (resolve, reject) => {
        child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString())));
        child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
      },
    );
    const { KubeConfig } = await import('@kubernetes/client-node');
    await runPod({
      kubeConfig: () => {
        const kc = new KubeConfig();
        kc.loadFromFile(started.kubeconfig);
        return kc;
      },
    });
    expect(realNodeLeftovers(started.node).length).toBeGreaterThan(3);
    child.kill('SIGKILL');
    await eventually(() => expect(realNodeLeftovers(started.node)).toEqual([]), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
  });
});
