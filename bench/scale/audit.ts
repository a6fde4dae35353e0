/**
 * Tallies the API server's audit log (JSON lines, one event per completed request): requests by
 * client, verb and resource, so a run says who asked the API server for what.
 */
import { createReadStream, readdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { createInterface } from 'node:readline';

/** The fields of an audit event this tally reads. */
interface AuditEvent {
  verb?: string;
  userAgent?: string;
  requestReceivedTimestamp?: string;
  objectRef?: { resource?: string; subresource?: string };
}

/** Verbs that change state. */
const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection', 'apply']);

/** Requests of one client, by `verb resource[/subresource]`. */
export interface ClientTally {
  total: number;
  writes: number;
  byVerbResource: Map<string, number>;
}

/**
 * The client an audit event came from: the first word of its User-Agent (`pixtral-operator`,
 * `kube-controller-manager`, `kwok`, `manager` for KubeAI's controller-runtime binary...).
 */
export function clientOf(userAgent: string | undefined): string {
  return (userAgent ?? 'unknown').split(/[/ ]/, 1)[0] || 'unknown';
}

/**
 * The audit log at `path` and the files kube-apiserver rotated it into (every 100 MB by default,
 * as `audit-<time>.log` beside it): a run of 3,000 deployments fills several.
 */
export function auditFiles(path: string): string[] {
  const ext = extname(path);
  const stem = basename(path, ext);
  const rotated = readdirSync(dirname(path)).filter((f) => f.startsWith(`${stem}-`) && f.endsWith(ext));
  return [...rotated.map((f) => join(dirname(path), f)), path];
}

/**
 * Reads the audit log at `path` (with its rotated files) and tallies events received in
 * [fromMs, toMs) by client. Streams the files: at 10,000 deployments they hold millions of lines.
 */
export async function tallyAudit(
  path: string,
  fromMs = 0,
  toMs = Number.POSITIVE_INFINITY,
): Promise<Map<string, ClientTally>> {
  const tallies = new Map<string, ClientTally>();
  for (const file of auditFiles(path)) await tallyFile(file, fromMs, toMs, tallies);
  return tallies;
}

async function tallyFile(
  path: string,
  fromMs: number,
  toMs: number,
  tallies: Map<string, ClientTally>,
): Promise<void> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (!line) continue;
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line being written as the run ends
    }
    const at = Date.parse(event.requestReceivedTimestamp ?? '');
    if (!(at >= fromMs && at < toMs)) continue;
    const client = clientOf(event.userAgent);
    let tally = tallies.get(client);
    if (!tally) {
      tally = { total: 0, writes: 0, byVerbResource: new Map() };
      tallies.set(client, tally);
    }
    const verb = event.verb ?? '?';
    const ref = event.objectRef;
    const resource = ref?.resource
      ? `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}`
      : '(non-resource)';
    const key = `${verb} ${resource}`;
    tally.total++;
    if (WRITES.has(verb)) tally.writes++;
    tally.byVerbResource.set(key, (tally.byVerbResource.get(key) ?? 0) + 1);
  }
}

/** `verb resource` counts of a tally, largest first, as `count  verb resource` lines. */
export function formatTally(tally: ClientTally, indent = '    '): string {
  return [...tally.byVerbResource]
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `${indent}${String(count).padStart(7)}  ${key}`)
    .join('\n');
}
