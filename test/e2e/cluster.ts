/** The cluster every end-to-end file starts: a full control plane with GPU and CPU nodes and volumes. */
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  type ControlPlane,
  createCpuNodes,
  createGpuNodes,
  createVolumes,
  startControlPlane,
} from '../harness/index.ts';
import { Pxds } from './pxd.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** A started end-to-end cluster and the clients the tests use. */
export interface E2eCluster {
  cp: ControlPlane;
  kc: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  pxds: Pxds;
}

/**
 * Starts a private full control plane with the PixtralDeployment CRD (plus `extraCrds`, paths
 * relative to the repository) installed before the controller manager, `h100` and `h100x2` GPU
 * nodes, one CPU node for weights Jobs, and `volumes` static volumes.
 */
export async function startE2eCluster(options: {
  extraCrds?: string[];
  h100: number;
  h100x2: number;
  volumes: number;
}): Promise<E2eCluster> {
  const cp = await startControlPlane({
    full: true,
    verbose: false,
    crds: ['crds/inference.pixtral.dev_pixtraldeployments.yaml', ...(options.extraCrds ?? [])].map((p) =>
      join(ROOT, p),
    ),
  });
  const kc = cp.kubeConfig();
  await Promise.all([
    createGpuNodes(kc, 'H100', options.h100),
    createGpuNodes(kc, 'H100-2', options.h100x2),
    createCpuNodes(kc, 1),
    createVolumes(kc, options.volumes),
  ]);
  return {
    cp,
    kc,
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    pxds: new Pxds(kc),
  };
}
