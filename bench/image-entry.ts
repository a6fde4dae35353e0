/**
 * The Node flags an image's entry point runs with, read from its Dockerfile, so a benchmark
 * starts a process the way its image does. Each image's Dockerfile writes its entry scripts with
 * `scripts/image-rootfs.sh <rootfs> "<name>=[flags] /app/<module>"`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/** The flags before `/app/...` in the `<name>=` argument of `dockerfile`'s image-rootfs.sh line. */
export function imageEntryNodeFlags(dockerfile: string, name: string): string[] {
  const text = readFileSync(join(ROOT, dockerfile), 'utf8');
  const line = text.split('\n').find((l) => l.includes('image-rootfs.sh') && l.includes(`${name}=`));
  if (line === undefined) throw new Error(`${dockerfile}: no image-rootfs.sh line with the entry ${name}`);
  const entry = new RegExp(`(?:^|[\\s"'])${name}=([^"']*?)/app/`).exec(line);
  if (entry === null) throw new Error(`${dockerfile}: the entry ${name} does not run a module under /app`);
  return (entry[1] as string).split(' ').filter((flag) => flag.startsWith('--'));
}
