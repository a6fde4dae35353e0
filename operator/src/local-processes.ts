/**
 * The Node processes local mode starts for each served deployment (the sidecar and the vLLM
 * stand-in). Each runs in its own process group, so a Ctrl-C at the terminal reaches only the
 * operator, which stops them in order; output goes to a log file beside a `<name>.pid` file, in
 * the local cluster's folder, whose watchdog kills them if the operator itself is killed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What to run: a Node script with arguments and exactly this environment. */
export interface ProcessSpec {
  /** Unique within `dir`: names the log and pid files. */
  name: string;
  script: string;
  args?: string[];
  env: Record<string, string>;
  /** Folder of the log and pid files. */
  dir: string;
}

const live = new Set<ChildProcess>();
let exitHooked = false;

/** A started Node process. */
export class LocalProcess {
  readonly name: string;
  readonly logPath: string;
  readonly #pidPath: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(spec: ProcessSpec) {
    this.name = spec.name;
    this.logPath = join(spec.dir, `${spec.name}.log`);
    this.#pidPath = join(spec.dir, `${spec.name}.pid`);
    const log = openSync(this.logPath, 'a');
    try {
      this.#child = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
        env: spec.env,
        stdio: ['ignore', log, log],
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    const child = this.#child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (child.pid) writeFileSync(this.#pidPath, `${child.pid}\n`);
    live.add(child);
    child.once('exit', () => live.delete(child));
    if (!exitHooked) {
      exitHooked = true;
      // Whatever way the operator exits, it leaves none of them behind.
      process.once('exit', () => {
        for (const c of live) c.kill('SIGKILL');
      });
    }
  }

  /** Starts `spec`; throws only if the process cannot be spawned at all. */
  static start(spec: ProcessSpec): LocalProcess {
    return new LocalProcess(spec);
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The last lines of its output, for error messages. */
  tail(lines = 15): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no output)';
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.running) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.#pidPath, { force: true });
  }
}
