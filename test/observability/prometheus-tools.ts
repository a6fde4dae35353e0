/** Debian's `prometheus` and `promtool` binaries (installed by scripts/setup.sh test). */
import { execFileSync } from 'node:child_process';

/** The path of `name` on the PATH or in /usr/bin; throws saying how to install it. */
export function prometheusBinary(name: 'prometheus' | 'promtool'): string {
  for (const candidate of [name, `/usr/bin/${name}`]) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  throw new Error(`${name} not found: run ./scripts/setup.sh test (installs Debian's prometheus package)`);
}
