/**
 * The weights cache: one PVC per model and revision, shared by every PixtralDeployment of that
 * model in the namespace, and the Job that fills it with the runtime image's provisioner.
 *
 * The PVC has no controller. Each PixtralDeployment using it applies it under its own field
 * manager (`weightsFieldManager`) with a non-controller owner reference to itself; server-side
 * apply merges the references (ownerReferences is a map keyed by uid), and garbage collection
 * deletes the PVC when the last owner is gone (docs/conventions.md#ownership), with no finalizer to get stuck.
 * The Job is controlled by the PVC, so it goes with it.
 */
import type { V1Job, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { type CatalogModel, minWeightsVolumeGi } from '../catalog/index.ts';
import type { OperatorConfig } from '../config.ts';
import { shortHash } from './hash.ts';
import { APP_NAME, MANAGED_BY, ownerReference, sortedRecord } from './labels.ts';
import { catalogModel } from './model.ts';
import { weightsPvcName } from './names.ts';
import { normalizeQuantity } from './quantity.ts';
import { RESTRICTED_CONTAINER, restrictedPodSecurity } from './security.ts';
import type { BuildInput } from './types.ts';

/** Where the provisioner mounts the cache (read-write) and fills it. */
export const PROVISION_TARGET = '/weights';
/** Folder of the hub token Secret in the provisioner. */
export const HUB_TOKEN_DIR = '/etc/pixtral/hub-token';
/** Command of the provisioner in the runtime image. */
export const PROVISIONER_COMMAND = ['provision-weights'];
/** Annotation naming the catalog model a cache holds. */
export const MODEL_ANNOTATION = 'pixtral.dev/model';
/** Annotation naming the pinned revision a cache holds. */
export const REVISION_ANNOTATION = 'pixtral.dev/revision';

/** Labels of the shared cache and its Job: no `instance`, since no single deployment owns them. */
export function weightsLabels(component: 'weights' | 'weights-provisioner'): Record<string, string> {
  return sortedRecord({
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'app.kubernetes.io/name': APP_NAME,
  });
}

/** The field manager `cr` applies the shared PVC with: `<fieldManager>/<cr uid>`. */
export function weightsFieldManager(cr: PixtralDeployment, config: OperatorConfig): string {
  return `${config.fieldManager}/${String(cr.metadata.uid)}`;
}

/** `spec.weights.size`, else the catalog's minimum for the model, normalized. */
export function weightsVolumeSize(cr: PixtralDeployment, model: CatalogModel): string {
  return normalizeQuantity(cr.spec.weights?.size ?? `${minWeightsVolumeGi(model)}Gi`);
}

/**
 * The shared PVC as `cr` applies it (under `weightsFieldManager`), with a non-controller owner
 * reference to `cr`. `live` is the PVC as it exists, if it does: then its spec values are applied
 * as they are. Server-side apply lets every manager co-own a field when they apply the same
 * value, so a deployment joining a cache never conflicts with the creator's size or class (and
 * never tries to change immutable fields), and no manager ever drops the spec it applied before
 * (dropping it would make the server try to remove the fields). Without `live`, the size is
 * `spec.weights.size` or the catalog's, the class the spec's or the config's.
 */
export function weightsPvc(input: BuildInput, live?: V1PersistentVolumeClaim): V1PersistentVolumeClaim {
  const { cr, config } = input;
  const model = catalogModel(cr, config);
  const liveSpec = live?.spec;
  const storageClassName = liveSpec
    ? liveSpec.storageClassName
    : (cr.spec.weights?.storageClassName ?? config.weights.storageClassName);
  const storage = liveSpec?.resources?.requests?.storage ?? weightsVolumeSize(cr, model);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: weightsPvcName(model),
      namespace: cr.metadata.namespace!,
      labels: weightsLabels('weights'),
      annotations: sortedRecord({
        [MODEL_ANNOTATION]: model.name,
        [REVISION_ANNOTATION]: model.weights.revision,
      }),
      ownerReferences: [ownerReference(cr, false)],
    },
    spec: {
      accessModes: [...(liveSpec?.accessModes ?? config.weights.accessModes)],
      resources: { requests: { storage: normalizeQuantity(storage) } },
      ...(storageClassName ? { storageClassName } : {}),
      volumeMode: liveSpec?.volumeMode ?? 'Filesystem',
    },
  } as V1PersistentVolumeClaim;
}

/** The provisioner's PROVISION_SPEC for `model` (runtime-image/src/provisioner/spec.ts), files sorted. */
export function provisionSpec(model: CatalogModel): string {
  return JSON.stringify({
    model: model.name,
    source: { kind: 'hub', repo: model.weights.huggingFaceRepo, revision: model.weights.revision },
    files: [...model.weights.files]
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .map((f) => ({
        name: f.path,
        size: f.sizeBytes,
        sizeIsExact: f.sizeIsExact,
        ...(f.sha256 ? { sha256: f.sha256 } : {}),
      })),
  });
}

/**
 * The Job that fills the cache, co-owned (non-controller references, applied under
 * `weightsFieldManager`) by the deployments that use the cache, like the PVC; named
 * `weights-<hash>` over its spec and owner: an edited template (new image, new revision) makes a
 * new Job instead of hitting immutable fields. backoffLimit is small and there is no TTL: the
 * operator retries slowly with backoff kept in status, and reads the finished Job's outcome.
 * The pod's termination message falls back to its logs, so a failure reason reaches the status.
 */
export function weightsJob(input: BuildInput, pvcUid: string): V1Job {
  const { cr, config } = input;
  const model = catalogModel(cr, config);
  const pvcName = weightsPvcName(model);
  const tokenSecret = config.weights.hubTokenSecretName;
  const env: Record<string, string> = {
    HF_ENDPOINT: config.weights.hubUrl,
    PROVISION_SPEC: provisionSpec(model),
    PROVISION_TARGET,
    ...(tokenSecret ? { HF_TOKEN_FILE: `${HUB_TOKEN_DIR}/${config.weights.hubTokenSecretKey}` } : {}),
  };
  const spec = {
    backoffLimit: config.weights.jobBackoffLimit,
    // Exit codes that another pod would only repeat (bad spec, digest mismatch, token refused, not
    // found: provision-weights' EXIT_CODES) fail the Job at once; the operator reads the report.
    podFailurePolicy: {
      rules: [
        {
          action: 'FailJob',
          onExitCodes: { containerName: 'provisioner', operator: 'In', values: [2, 3, 4, 5] },
        },
      ],
    },
    activeDeadlineSeconds: config.weights.jobActiveDeadlineSeconds,
    template: {
      metadata: {
        labels: sortedRecord({ ...config.weights.podLabels, ...weightsLabels('weights-provisioner') }),
      },
      spec: {
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'provisioner',
            image: config.images.runtime,
            imagePullPolicy: config.images.pullPolicy,
            command: [...PROVISIONER_COMMAND],
            env: Object.entries(sortedRecord(env)).map(([name, value]) => ({ name, value })),
            resources: {
              limits: { memory: '2Gi' },
              requests: { cpu: '1', memory: '512Mi' },
            },
            securityContext: { ...RESTRICTED_CONTAINER, readOnlyRootFilesystem: true },
            terminationMessagePolicy: 'FallbackToLogsOnError',
            volumeMounts: [
              ...(tokenSecret ? [{ name: 'hub-token', mountPath: HUB_TOKEN_DIR, readOnly: true }] : []),
              { name: 'weights', mountPath: PROVISION_TARGET },
            ],
          },
        ],
        enableServiceLinks: false,
        ...(config.images.pullSecrets.length > 0
          ? { imagePullSecrets: [...config.images.pullSecrets].sort().map((name) => ({ name })) }
          : {}),
        restartPolicy: 'Never',
        // fsGroup: the fresh volume belongs to root; the non-root provisioner writes through the group.
        securityContext: restrictedPodSecurity({ fsGroup: true }),
        volumes: [
          ...(tokenSecret ? [{ name: 'hub-token', secret: { secretName: tokenSecret } }] : []),
          { name: 'weights', persistentVolumeClaim: { claimName: pvcName } },
        ],
      },
    },
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: `weights-${shortHash({ spec, owner: pvcUid })}`,
      namespace: cr.metadata.namespace!,
      labels: weightsLabels('weights-provisioner'),
      annotations: sortedRecord({
        [MODEL_ANNOTATION]: model.name,
        [REVISION_ANNOTATION]: model.weights.revision,
      }),
      // Owned like the PVC, by every deployment using it (not by the PVC): the PVC's protection
      // finalizer keeps it while the finished Job's pod references it, so a Job owned by the PVC
      // would never be collected and the PVC would stay Terminating for ever.
      ownerReferences: [ownerReference(cr, false)],
    },
    spec,
  } as V1Job;
}
