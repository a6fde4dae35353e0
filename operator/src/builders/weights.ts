/**
 * The weights cache: one PVC per model and revision, shared by every PixtralDeployment of that
 * model in the namespace, and the Job that fills it with the runtime image's provisioner.
 *
 * Neither names a deployment: the weights-cache controller (reconcile/weights-cache.ts) creates
 * the PVC when the first deployment of a model needs it and deletes it after the last one is gone,
 * so the objects stay the same size however many deployments share them (docs/weights.md#release).
 * The Job is controlled by the PVC.
 */
import type { V1Job, V1OwnerReference, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { PixtralDeployment } from '../api/pixtral-deployment.ts';
import { type CatalogModel, minWeightsVolumeGi } from '../catalog/index.ts';
import { shortHash } from './hash.ts';
import { APP_NAME, MANAGED_BY, sortedRecord } from './labels.ts';
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
/** Annotation on the PVC: failed provisioning attempts since the last success (the retry backoff). */
export const ATTEMPTS_ANNOTATION = 'pixtral.dev/weights-attempts';
/** Annotation on the PVC: when the last provisioning attempt failed (RFC 3339, seconds). */
export const LAST_FAILURE_ANNOTATION = 'pixtral.dev/weights-last-failure';
/** Annotation on the PVC: why provisioning is stuck, as JSON `{reason, message}`. */
export const STALL_ANNOTATION = 'pixtral.dev/weights-stall';

/**
 * What the weights-cache controller notes on a cache's PVC, for every deployment sharing it and
 * for a restarted operator: the failed attempts since the last success (the retry backoff), and
 * why provisioning is stuck, in Kubernetes' words, when it is.
 */
export interface WeightsNotes {
  attempts: number;
  lastFailureTime?: string | undefined;
  stall?: { reason: string; message: string } | undefined;
}

/** Labels of the shared cache and its Job: no `instance`, since no single deployment owns them. */
export function weightsLabels(component: 'weights' | 'weights-provisioner'): Record<string, string> {
  return sortedRecord({
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'app.kubernetes.io/name': APP_NAME,
  });
}

/** `spec.weights.size`, else the catalog's minimum for the model, normalized. */
export function weightsVolumeSize(cr: PixtralDeployment, model: CatalogModel): string {
  return normalizeQuantity(cr.spec.weights?.size ?? `${minWeightsVolumeGi(model)}Gi`);
}

/**
 * The shared PVC, for the model of `input.cr` (the cache's first user). `live` is the PVC as it
 * exists, if it does: then its spec values are applied as they are, so a later first user (the
 * creator deleted) never tries to change the size, class or other immutable fields. Without
 * `live`, the size is `spec.weights.size` or the catalog's, the class the spec's or the config's.
 * `notes` are kept in annotations, each only while it says something.
 */
export function weightsPvc(
  input: BuildInput,
  live?: V1PersistentVolumeClaim,
  notes: WeightsNotes = { attempts: 0 },
): V1PersistentVolumeClaim {
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
        ...(notes.attempts > 0 ? { [ATTEMPTS_ANNOTATION]: String(notes.attempts) } : {}),
        ...(notes.attempts > 0 && notes.lastFailureTime
          ? { [LAST_FAILURE_ANNOTATION]: notes.lastFailureTime }
          : {}),
        ...(notes.stall
          ? {
              [STALL_ANNOTATION]: JSON.stringify({
                reason: notes.stall.reason,
                message: notes.stall.message,
              }),
            }
          : {}),
      }),
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

/** The notes kept on `pvc` (none when it is absent; an unreadable note counts as none). */
export function notesOf(pvc: V1PersistentVolumeClaim | undefined): WeightsNotes {
  const annotations = pvc?.metadata?.annotations ?? {};
  const attempts = Number(annotations[ATTEMPTS_ANNOTATION] ?? 0);
  return {
    attempts: Number.isInteger(attempts) && attempts > 0 ? attempts : 0,
    lastFailureTime: annotations[LAST_FAILURE_ANNOTATION],
    stall: parseStall(annotations[STALL_ANNOTATION]),
  };
}

function parseStall(json: string | undefined): WeightsNotes['stall'] {
  if (!json) return undefined;
  try {
    const { reason, message } = JSON.parse(json) as Record<string, unknown>;
    return typeof reason === 'string' && typeof message === 'string' ? { reason, message } : undefined;
  } catch {
    return undefined;
  }
}

/** The cache (PVC name) a weights Job fills. */
export function claimOf(job: V1Job): string | undefined {
  return job.spec?.template?.spec?.volumes?.find((v) => v.name === 'weights')?.persistentVolumeClaim
    ?.claimName;
}

/**
 * The Job that fills the cache, controlled by the cache's PVC and named `weights-<hash>` over its
 * spec and the PVC's uid: an edited template (new image, new revision) makes a new Job instead of
 * hitting immutable fields. backoffLimit is small and there is no TTL: the
 * operator retries slowly with backoff kept on the PVC, and reads the finished Job's outcome.
 * The pod's termination message falls back to its logs, so a failure reason reaches the status.
 */
export function weightsJob(input: BuildInput, pvc: { name: string; uid: string }): V1Job {
  const pvcUid = pvc.uid;
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
      // The PVC's protection finalizer keeps it while the finished Job's pod references it, so
      // garbage collection alone would wait for ever: the weights-cache controller deletes the
      // Jobs before the PVC. The reference finds a cache's Jobs and records what they belong to.
      ownerReferences: [pvcOwnerReference(pvc)],
    },
    spec,
  } as V1Job;
}

/** A controller reference to the cache's PVC (not blocking its deletion: nothing waits on a Job). */
function pvcOwnerReference(pvc: { name: string; uid: string }): V1OwnerReference {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    name: pvc.name,
    uid: pvc.uid,
    controller: true,
    blockOwnerDeletion: false,
  };
}

/**
 * The cache's desired objects for its first user `input.cr`: the PVC, and once the PVC exists
 * (`live`: its uid names the Job) the Job that fills it.
 */
export function desiredWeightsCache(
  input: BuildInput,
  live: V1PersistentVolumeClaim | undefined,
  notes: WeightsNotes = { attempts: 0 },
): { pvc: V1PersistentVolumeClaim; job?: V1Job } {
  const pvc = weightsPvc(input, live, notes);
  const uid = live?.metadata?.uid;
  return uid ? { pvc, job: weightsJob(input, { name: pvc.metadata!.name!, uid }) } : { pvc };
}
