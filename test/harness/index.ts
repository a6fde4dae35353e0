/**
 * The real control-plane harness, for any test file.
 *
 *   import { sharedControlPlane, startControlPlane, createGpuNodes, installCrds, eventually, freshNamespace } from '../harness/index.ts';
 *
 * - `sharedControlPlane()` returns the suite-wide cluster that vitest's globalSetup started
 *   (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok), read from the
 *   kubeconfig it provided. Use a fresh namespace per test.
 * - `startControlPlane(options)` starts a private cluster (for tests that stop the API server,
 *   need an audit log, or need a cluster with no GPU nodes). Always `await cp.stop()` in afterAll.
 */

export { type BinaryPaths, findBinaries } from './binaries.ts';
export { type ControlPlane, type ControlPlaneOptions, startControlPlane } from './control-plane.ts';
export { applyRaw, type CrdDocument, installCrds, readCrdFiles, waitForCrdsEstablished } from './crds.ts';
export { eventually, untilQuiet } from './eventually.ts';
export { createCpuNodes, createGpuNodes, type GpuNodeType } from './gpu-nodes.ts';
export { freshNamespace } from './namespace.ts';
export { sharedControlPlane } from './shared.ts';
export { createVolumes, TEST_STORAGE_CLASS } from './volumes.ts';
