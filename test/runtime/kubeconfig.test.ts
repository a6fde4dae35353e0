import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKubeConfig, NoClusterConfiguredError } from '../../operator/src/runtime/kubeconfig.ts';

function kubeconfig(server: string, context = 'ctx'): string {
  return `apiVersion: v1
kind: Config
clusters: [{name: c-${context}, cluster: {server: ${server}}}]
users: [{name: u-${context}, user: {token: t}}]
contexts: [{name: ${context}, context: {cluster: c-${context}, user: u-${context}}}]
current-context: ${context}
`;
}

/** Folders the tests made, removed after them. */
const made: string[] = [];
async function folder(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
afterAll(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));

describe('loadKubeConfig', () => {
  it('reads KUBECONFIG when not in a pod', async () => {
    const dir = await folder('kc-');
    await writeFile(join(dir, 'a'), kubeconfig('https://a.example:6443', 'a'));
    const kc = loadKubeConfig({ env: { KUBECONFIG: join(dir, 'a') }, home: dir });
    expect(kc.getCurrentCluster()?.server).toBe('https://a.example:6443');
  });

  it('merges several KUBECONFIG files, the first one setting the context', async () => {
    const dir = await folder('kc-');
    await writeFile(join(dir, 'a'), kubeconfig('https://a.example:6443', 'a'));
    await writeFile(join(dir, 'b'), kubeconfig('https://b.example:6443', 'b'));
    const kc = loadKubeConfig({ env: { KUBECONFIG: `${join(dir, 'a')}:${join(dir, 'b')}` }, home: dir });
    expect(kc.getCurrentCluster()?.server).toBe('https://a.example:6443');
    expect(kc.getContexts().map((c) => c.name)).toEqual(['a', 'b']);
  });

  it('falls back to ~/.kube/config', async () => {
    const home = await folder('kc-home-');
    await mkdir(join(home, '.kube'));
    await writeFile(join(home, '.kube', 'config'), kubeconfig('https://home.example:6443'));
    expect(loadKubeConfig({ env: {}, home }).getCurrentCluster()?.server).toBe('https://home.example:6443');
  });

  it('refuses to guess a cluster when there are no credentials anywhere', async () => {
    const home = await folder('kc-empty-');
    expect(() => loadKubeConfig({ env: {}, home })).toThrow(/No Kubernetes credentials found/);
    expect(() => loadKubeConfig({ env: {}, home })).toThrow(NoClusterConfiguredError);
  });

  it('says "no cluster configured" only when none was named (npm start then runs a local one)', async () => {
    const home = await folder('kc-empty-');
    const thrown = (env: NodeJS.ProcessEnv) => {
      try {
        loadKubeConfig({ env, home });
      } catch (error) {
        return error as Error;
      }
      throw new Error('loadKubeConfig did not throw');
    };
    const missingFile = thrown({ KUBECONFIG: '/nonexistent/kubeconfig' });
    expect(missingFile.message).toMatch(/KUBECONFIG names no existing file/);
    expect(missingFile).not.toBeInstanceOf(NoClusterConfiguredError);
    const podWithoutToken = thrown({ KUBERNETES_SERVICE_HOST: '10.0.0.1' });
    expect(podWithoutToken.message).toMatch(/no service account token/);
    expect(podWithoutToken).not.toBeInstanceOf(NoClusterConfiguredError);
  });
});
