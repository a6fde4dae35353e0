/**
 * The sidecar started as a serving pod starts it: the environment, the Node options and the
 * memory limit come from the operator's real Deployment builder with the default configuration
 * (what the chart installs). The memory limit reaches the sidecar as MEMORY_LIMIT_BYTES, since a
 * test cannot put itself in a cgroup; the process's RSS is read from /proc to check it stays
 * under that limit. Also: PNG bytes of incompressible noise, the worst case of a legal image.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { V1Container } from '@kubernetes/client-node';
import { deployment } from '../../operator/src/builders/deployment.ts';
import { anOperatorConfig, aPixtralDeployment } from '../fixtures/pixtral-deployment.ts';
import { type MainProcess, startMain } from '../sidecar/main-process.ts';

/** The sidecar container of a default PixtralDeployment, as the operator builds it. */
export function podSidecar(): { env: Record<string, string>; memoryLimitBytes: number } {
  const input = { cr: aPixtralDeployment(), config: anOperatorConfig() };
  const pod = deployment(input).spec?.template.spec;
  const sidecar = pod?.containers.find((c) => c.name === 'sidecar') as V1Container;
  const env = Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value ?? '']));
  const limit = sidecar.resources?.limits?.memory;
  if (limit === undefined) throw new Error('the sidecar container has no memory limit');
  return { env, memoryLimitBytes: bytesOf(limit) };
}

/** Bytes of a memory quantity as the builders write it ("1Gi", "512Mi", "1073741824"). */
function bytesOf(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (match === null) throw new Error(`unexpected memory quantity ${quantity}`);
  const power = { Ki: 10, Mi: 20, Gi: 30, Ti: 40 }[match[2] ?? ''] ?? 0;
  return Number(match[1]) * 2 ** power;
}

/** A running pod-like sidecar. */
export interface PodSidecar extends MainProcess {
  key: string;
  memoryLimitBytes: number;
  /** Resident set size now, in bytes. */
  rss(): number;
  /** The highest resident set size so far (VmHWM), in bytes. */
  peakRss(): number;
  alive(): boolean;
  stop(): Promise<void>;
}

/** Starts main.ts with the pod's environment (plus `extraEnv`), in front of `upstreamUrl`. */
export async function startPodSidecar(
  upstreamUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<PodSidecar> {
  const { env, memoryLimitBytes } = podSidecar();
  const dir = mkdtempSync(join(tmpdir(), 'pod-sidecar-'));
  const key = `pxd_${randomBytes(32).toString('base64url')}`;
  const hashes = join(dir, 'key-hashes');
  writeFileSync(hashes, `${createHash('sha256').update(key).digest('hex')}\n`);
  // Paths and ports of the pod replaced by local ones; everything else as built.
  const { WEIGHTS_DIR: _weights, SIDECAR_PORT: _port, SIDECAR_NOAUTH_PORT: _noauth, ...rest } = env;
  const main = await startMain({
    ...rest,
    API_KEY_HASHES_FILE: hashes,
    UPSTREAM_URL: upstreamUrl,
    MEMORY_LIMIT_BYTES: String(memoryLimitBytes),
    ...extraEnv,
  });
  const pid = main.child.pid as number;
  const status = (field: string): number => {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
    return Number(kb) * 1024;
  };
  let exited = false;
  main.child.once('exit', () => {
    exited = true;
  });
  return {
    ...main,
    key,
    memoryLimitBytes,
    rss: () => status('VmRSS'),
    peakRss: () => status('VmHWM'),
    alive: () => !exited,
    stop: async () => {
      await stopChild(main.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** A PNG of `side` x `side` RGB noise: about 3 x side² bytes, since noise does not compress. */
export function noisePng(side: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = randomBytes((side * 3 + 1) * side);
  for (let y = 0; y < side; y++) rows[y * (side * 3 + 1)] = 0; // filter: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 0 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
