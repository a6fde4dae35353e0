/** PixtralDeployment helpers for end-to-end tests: create, read, delete and wait for a phase. */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { expect } from 'vitest';
import type { PixtralDeployment } from '../../operator/src/api/pixtral-deployment.ts';
import { eventually } from '../harness/index.ts';

/** Where PixtralDeployments live in the API. */
export const PXD = {
  group: 'inference.pixtral.dev',
  version: 'v1alpha1',
  plural: 'pixtraldeployments',
} as const;

/** A small client for PixtralDeployments of one cluster. */
export class Pxds {
  readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  /** Creates `namespace/name` for the catalog's Pixtral model with `spec` on top. */
  async create(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
    await this.custom.createNamespacedCustomObject({
      ...PXD,
      namespace,
      body: {
        apiVersion: 'inference.pixtral.dev/v1alpha1',
        kind: 'PixtralDeployment',
        metadata: { name },
        spec: { model: 'mistral/pixtral-12b-2409:bf16', ...spec },
      },
    });
  }

  /** Reads one. */
  async read(namespace: string, name: string): Promise<PixtralDeployment> {
    return (await this.custom.getNamespacedCustomObject({ ...PXD, namespace, name })) as PixtralDeployment;
  }

  /** Deletes one. */
  async remove(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ ...PXD, namespace, name });
  }

  /** JSON-patches one. */
  async patch(namespace: string, name: string, body: object[]): Promise<void> {
    await this.custom.patchNamespacedCustomObject({ ...PXD, namespace, name, body });
  }

  /** Waits until `status.phase` is `phase`; fails with the conditions when it is not. */
  waitForPhase(
    namespace: string,
    name: string,
    phase: string,
    timeoutMs = 60_000,
  ): Promise<PixtralDeployment> {
    return eventually(
      async () => {
        const cr = await this.read(namespace, name);
        expect(cr.status?.phase, JSON.stringify(cr.status?.conditions)).toBe(phase);
        return cr;
      },
      { timeoutMs },
    );
  }
}
