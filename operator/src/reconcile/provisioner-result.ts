/**
 * What the weights Job's provisioner reported: the JSON it writes to its termination log and its
 * exit code (runtime-image/src/provisioner/main.ts and errors.ts; weights-state.test.ts checks
 * both sides agree). Read as data: a code, the file, the expected and the actual digest. The
 * operator image does not carry the provisioner's code, hence the schema here.
 */
import type { V1ContainerStateTerminated, V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';

/** The provisioner's termination message. */
export const ProvisionerReport = z.object({
  code: z.string().min(1).max(64),
  retry: z.enum(['transient', 'terminal']).optional(),
  file: z.string().max(255).optional(),
  expected: z.string().max(128).optional(),
  got: z.string().max(128).optional(),
  message: z.string().max(4096),
});
/** The provisioner's termination message. */
export type ProvisionerReport = z.infer<typeof ProvisionerReport>;

/** The provisioner's exit codes that the operator acts on. */
export const PROVISIONER_EXIT = { digest: 3, transient: 7 } as const;

/** How a failed run is handled. */
export interface ProvisionerFailure {
  /** The bytes or the catalog disagree with the hub's ids: another run would fetch the same. */
  digestMismatch: boolean;
  report?: ProvisionerReport | undefined;
  exitCode?: number | undefined;
  /** A sentence for the status, with both digests when it is a mismatch. */
  summary: string;
}

function terminatedOf(pod: V1Pod): V1ContainerStateTerminated | undefined {
  const status =
    pod.status?.containerStatuses?.find((s) => s.name === 'provisioner') ??
    pod.status?.containerStatuses?.[0];
  return status?.state?.terminated ?? status?.lastState?.terminated;
}

function parseReport(message: string | undefined): ProvisionerReport | undefined {
  if (!message) return undefined;
  try {
    const parsed = ProvisionerReport.safeParse(JSON.parse(message));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The newest failed provisioner run among `pods` (by finish time): its report, its exit code and
 * what it means. Undefined when no pod has terminated.
 */
export function provisionerFailure(pods: V1Pod[]): ProvisionerFailure | undefined {
  const runs = pods
    .map((pod) => terminatedOf(pod))
    .filter((t): t is V1ContainerStateTerminated => t !== undefined && t.exitCode !== 0)
    .sort((a, b) => String(b.finishedAt ?? '').localeCompare(String(a.finishedAt ?? '')));
  const run = runs[0];
  if (!run) return undefined;
  const report = parseReport(run.message);
  const digestMismatch =
    run.exitCode === PROVISIONER_EXIT.digest ||
    report?.code === 'DigestMismatch' ||
    report?.code === 'CatalogMismatch';
  let summary: string;
  if (report && digestMismatch) {
    summary = `${report.code}: ${report.file ?? 'a file'} should be ${report.expected ?? '?'} but is ${report.got ?? '?'}`;
  } else if (report) {
    summary = `${report.code}: ${report.message}`;
  } else {
    // Not our report (an image without it, an OOM kill): the last lines the kubelet kept.
    const tail = run.message?.trim().split('\n').slice(-3).join(' ');
    summary = `exit code ${run.exitCode}${run.reason ? ` (${run.reason})` : ''}${tail ? `: ${tail}` : ''}`;
  }
  return { digestMismatch, report, exitCode: run.exitCode, summary };
}
