import { readFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { ApiextensionsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Agent, fetch } from 'undici';
import { parseAllDocuments } from 'yaml';
import { eventually } from './eventually.ts';

/** A CRD as plain JSON (the API's own field names, as in YAML files). */
export type CrdDocument = { metadata?: { name?: string } } & Record<string, unknown>;

/** Reads every CustomResourceDefinition from YAML files (multi-document files allowed). */
export async function readCrdFiles(paths: string[]): Promise<CrdDocument[]> {
  const crds: CrdDocument[] = [];
  for (const path of paths) {
    for (const doc of parseAllDocuments(await readFile(path, 'utf8'))) {
      const object = doc.toJS() as CrdDocument | null;
      if (object?.kind === 'CustomResourceDefinition') crds.push(object);
    }
  }
  return crds;
}

/**
 * Creates or updates CRDs (objects, or paths of YAML files) with server-side apply and waits until
 * each is Established, so custom resources can be created right after.
 */
export async function installCrds(kc: KubeConfig, crds: (CrdDocument | string)[]): Promise<void> {
  const objects = [
    ...crds.filter((c): c is CrdDocument => typeof c !== 'string'),
    ...(await readCrdFiles(crds.filter((c): c is string => typeof c === 'string'))),
  ];
  for (const crd of objects) {
    await applyRaw(kc, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata?.name}`, {
      ...crd,
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
    });
  }
  await waitForCrdsEstablished(
    kc,
    objects.map((crd) => crd.metadata?.name as string),
  );
}

/** Waits until every named CRD has condition Established=True. */
export async function waitForCrdsEstablished(
  kc: KubeConfig,
  names: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await eventually(
    async () => {
      for (const name of names) {
        const crd = await api.readCustomResourceDefinition({ name });
        const established = crd.status?.conditions?.find((c) => c.type === 'Established')?.status === 'True';
        if (!established) throw new Error(`CRD ${name} is not Established yet`);
      }
    },
    { timeoutMs },
  );
}

/**
 * Server-side applies a JSON object at an API path. Raw on purpose: client-node's typed serializer
 * renames JSON-schema keys (`default`, `x-kubernetes-*`) of CRDs and would silently drop them.
 */
export async function applyRaw(
  kc: KubeConfig,
  path: string,
  object: object,
  fieldManager = 'pixtral-test-harness',
): Promise<unknown> {
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const dispatcher = new Agent({
    connect: { ca: options.ca, cert: options.cert, key: options.key } as object,
  });
  try {
    const url = `${kc.getCurrentCluster()?.server}${path}?fieldManager=${fieldManager}&force=true`;
    const response = await fetch(url, {
      method: 'PATCH',
      headers: {
        ...(options.headers as Record<string, string>),
        'content-type': 'application/apply-patch+yaml',
      },
      body: JSON.stringify(object),
      dispatcher,
    });
    const body = await response.json();
    if (!response.ok)
      throw new Error(`Applying ${path} failed with ${response.status}: ${JSON.stringify(body)}`);
    return body;
  } finally {
    await dispatcher.close();
  }
}
