import type { TestProject } from 'vitest/node';
import { startControlPlane } from './control-plane.ts';

/** Starts the suite-wide cluster once for every test file of the `cluster` project. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cp = await startControlPlane({ full: true });
  project.provide('sharedCluster', {
    kubeconfigPath: cp.kubeconfigPath,
    apiServerUrl: cp.apiServerUrl,
    bins: cp.bins,
  });
  return () => cp.stop();
}
