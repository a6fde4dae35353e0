/**
 * Security contexts that pass the Pod Security Standard `restricted` (what
 * `pod-security.kubernetes.io/enforce=restricted` admits): non-root, RuntimeDefault seccomp, no
 * privilege escalation, every capability dropped. Every pod the operator creates uses them.
 */
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

/** UID and GID of the runtime image's user; also what vLLM runs as (its image would run as root). */
export const RUNTIME_UID = 65532;

/** Per container: `restricted` checks allowPrivilegeEscalation and capabilities on each one. */
export const RESTRICTED_CONTAINER: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

/**
 * The pod level: a fixed non-root user (an image whose USER is root would otherwise be refused by
 * the kubelet under runAsNonRoot) and RuntimeDefault seccomp. `fsGroup` when the pod writes a
 * volume that starts out owned by root; OnRootMismatch so a filled cache is not walked again.
 */
export function restrictedPodSecurity(options: { fsGroup?: boolean } = {}): V1PodSecurityContext {
  return {
    ...(options.fsGroup ? { fsGroup: RUNTIME_UID, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
    runAsGroup: RUNTIME_UID,
    runAsNonRoot: true,
    runAsUser: RUNTIME_UID,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
