import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { findBinaries } from '../harness/binaries.ts';
import { runKubectl } from '../harness/control-plane.ts';
import { eventually } from '../harness/index.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'operator', 'src', 'main.ts');

describe('npm start with no cluster given', () => {
  it('starts a local control plane with GPU nodes, serves the sample, and cleans up on SIGINT', async () => {
    const bins = await findBinaries();
    const child = spawn(process.execPath, [MAIN, '--health-port', '0'], {
      env: { ...process.env, PIXTRAL_LOCAL_CLUSTER: 'true', KUBECONFIG: '', PXD_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: { msg?: string; kubeconfig?: string; endpoint?: string; keySecret?: string }[] = [];
    const raw: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      raw.push(line);
      try {
        lines.push(JSON.parse(line));
      } catch {
        // npm banners and the like
      }
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const kubeconfig = await eventually(
        () => {
          const found = lines.find((l) => l.kubeconfig)?.kubeconfig;
          expect(found).toBeTruthy();
          return found as string;
        },
        { timeoutMs: 120_000 },
      );
      await eventually(
        async () => {
          const { stdout } = await runKubectl(bins.kubectl, kubeconfig, [
            'get',
            'pxd',
            'vision',
            '-n',
            'default',
            '-o',
            'jsonpath={.status.phase}',
          ]);
          expect(stdout).toBe('Ready');
        },
        { timeoutMs: 90_000 },
      );
      const nodes = await runKubectl(bins.kubectl, kubeconfig, [
        'get',
        'nodes',
        '-L',
        'node.kubernetes.io/instance-type',
        '--no-headers',
      ]);
      expect(nodes.stdout).toContain('H100-1-80G');
      expect(nodes.stdout).toContain('H100-2-80G');
      const messages = lines.map((l) => l.msg);
      expect(messages).toContain(
        'Created simulated nodes (GPU nodes for serving, a CPU node for weights Jobs)',
      );
      expect(messages).toContain('Started controller');
      // Not a terminal: JSON lines only. The deployment is served locally, and the line saying
      // so names the keys Secret, never the key.
      const serving = await eventually(
        () => {
          const found = lines.find((l) => l.endpoint);
          expect(found).toBeTruthy();
          return found as { endpoint: string; keySecret: string };
        },
        { timeoutMs: 60_000 },
      );
      expect(serving.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(serving.keySecret).toBe('default/vision-api-keys');
      expect((await fetch(`${serving.endpoint}/models`)).status).toBe(401);
      expect(raw.every((line) => line.startsWith('{'))).toBe(true);
      expect(raw.some((line) => line.includes('pxd_'))).toBe(false);

      // A key added to the keys Secret works without a restart, and stops working once removed:
      // the operator updates the hashes Secret, local serving rewrites the sidecar's hashes file.
      const added = 'pxd_added-while-serving-0123456789abcdefghijklmnopq';
      const models = () =>
        fetch(`${serving.endpoint}/models`, { headers: { authorization: `Bearer ${added}` } }).then(
          async (r) => {
            await r.body?.cancel();
            return r.status;
          },
        );
      const patch = (data: Record<string, string | null>) =>
        runKubectl(bins.kubectl, kubeconfig, [
          'patch',
          'secret',
          'vision-api-keys',
          '-n',
          'default',
          '--type=merge',
          '-p',
          JSON.stringify({ data }),
        ]);
      expect((await patch({ added: Buffer.from(added).toString('base64') })).code).toBe(0);
      await eventually(async () => expect(await models()).toBe(200), { timeoutMs: 30_000 });
      expect((await patch({ added: null })).code).toBe(0);
      await eventually(async () => expect(await models()).toBe(401), { timeoutMs: 30_000 });

      // Deleting the deployment stops its local sidecar.
      expect(
        (
          await runKubectl(bins.kubectl, kubeconfig, [
            'delete',
            'pxd',
            'vision',
            '-n',
            'default',
            '--wait=false',
          ])
        ).code,
      ).toBe(0);
      await eventually(
        async () =>
          expect(
            await fetch(`${serving.endpoint}/models`).then(
              () => 'answered',
              () => 'refused',
            ),
          ).toBe('refused'),
        { timeoutMs: 30_000 },
      );
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(kubeconfig)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
