/**
 * What the container tests need besides testcontainers (test/image/containers.ts runs the
 * containers): whether docker can run here at all, and building the project's images. Images are
 * built by scripts/build-images.sh, not by testcontainers' image builder: the script also starts
 * dockerd when none answers, makes the base image from a debootstrapped Debian (nothing can be
 * pulled), tags the images as the chart names them and drops the builds' leftovers, and CI,
 * `npm run images` and the real node's tests share it.
 */
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export { freePort } from '../harness/processes.ts';

/** The repository root. */
export const ROOT = join(import.meta.dirname, '..', '..');

/** Why docker cannot run at all on this machine, or undefined when it can (maybe once dockerd is started). */
export function dockerUnavailable(): string | undefined {
  // `docker --version` needs no daemon (`docker version` fails when none answers yet).
  if (spawnSync('docker', ['--version']).status !== 0)
    return 'the docker CLI is not installed (apt-get install -y docker.io)';
  if (spawnSync('docker', ['info'], { timeout: 20_000 }).status === 0) return undefined;
  if (spawnSync('sh', ['-c', 'command -v dockerd']).status !== 0)
    return 'no Docker daemon answers and dockerd is not installed (apt-get install -y docker.io)';
  return undefined;
}

/** A finished command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to the end; never throws on a non-zero exit. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Builds one of the project's images with scripts/build-images.sh (starts dockerd, base image if missing). */
export async function buildImage(
  target: 'runtime' | 'operator' | 'vllm' | 'pause',
  tag: string,
): Promise<void> {
  const build = await run('bash', [join(ROOT, 'scripts', 'build-images.sh'), target], { IMAGE_TAG: tag });
  if (build.code !== 0)
    throw new Error(`scripts/build-images.sh ${target} failed:\n${build.stdout}${build.stderr}`);
}
