import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A script in a cluster folder that undoes what its processes leave behind (mounts, links, rules). */
export const TEARDOWN_SCRIPT = 'teardown.sh';

// One free-port helper for the product's local mode and the tests.
export { freePort } from '../../operator/src/local-ports.ts';

/** The last lines of a log file, for error messages. */
export function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * One long-running binary of the test cluster: its output goes to `<dir>/logs/<name>.log` and its
 * pid to `<dir>/<name>.pid`, where the watchdog finds it if the test process dies.
 */
export class Component {
  readonly name: string;
  readonly logPath: string;
  private readonly dir: string;
  private readonly command: string;
  private readonly args: string[];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(dir: string, name: string, command: string, args: string[]) {
    this.dir = dir;
    this.name = name;
    this.command = command;
    this.args = args;
    this.logPath = join(dir, 'logs', `${name}.log`);
  }

  /** Starts the process; `exitedEarly` rejects if it stops before `stop()` is called. */
  start(): void {
    const log = openSync(this.logPath, 'a');
    // A process group of its own: Ctrl-C at a terminal signals the whole foreground group, and the
    // API server must outlive the operator that still needs it to release its Lease. Whoever
    // started the cluster stops it (stop(), the exit hook, or the watchdog).
    const child = spawn(this.command, this.args, { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (child.pid) writeFileSync(join(this.dir, `${this.name}.pid`), `${child.pid}\n`);
    liveChildren.add(child);
    child.once('exit', () => liveChildren.delete(child));
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Throws with the log's tail when the process has died. */
  assertRunning(): void {
    if (!this.running) {
      throw new Error(
        `${this.name} exited (code ${this.child?.exitCode ?? '?'}); its log ends:\n${tail(this.logPath)}`,
      );
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    rmSync(join(this.dir, `${this.name}.pid`), { force: true });
  }
}

const liveChildren = new Set<ChildProcess>();
const liveFolders = new Set<string>();

/** Registers a folder to delete if the process exits without a clean stop. */
export function trackFolder(dir: string): void {
  liveFolders.add(dir);
}

/** Forgets a folder after a clean stop removed it. */
export function untrackFolder(dir: string): void {
  liveFolders.delete(dir);
}

// A test that throws, times out or is interrupted must not leave etcd and kube-apiserver behind.
// 'exit' handlers run on normal exits and after the signal handlers below; a SIGKILLed test
// process is covered by the watchdog (startWatchdog).
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
    for (const dir of liveFolders) {
      // A real node's folder holds mounts and names a bridge and rules: undo them before deleting.
      if (existsSync(join(dir, TEARDOWN_SCRIPT)))
        spawnSync('bash', [join(dir, TEARDOWN_SCRIPT)], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Exit (running the 'exit' cleanup) only when nobody else handles the signal: a process that
    // drains on SIGINT itself, like the operator in local mode, stops the cluster when it is done.
    const onSignal = () => {
      if (process.listenerCount(signal) === 0) process.exit(130);
    };
    process.once(signal, onSignal);
  }
}

/**
 * A detached shell that outlives a killed test process: when the process `parentPid` is gone but
 * the cluster folder still exists, it kills every pid recorded there, runs the folder's
 * teardown.sh if there is one, and deletes the folder.
 */
export function startWatchdog(dir: string, parentPid = process.pid): void {
  hookExit();
  const script = `
while kill -0 ${parentPid} 2>/dev/null && [ -d "$1" ]; do sleep 1; done
[ -d "$1" ] || exit 0
for f in "$1"/*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
sleep 3
for f in "$1"/*.pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
[ -f "$1/${TEARDOWN_SCRIPT}" ] && bash "$1/${TEARDOWN_SCRIPT}" >/dev/null 2>&1
rm -rf "$1"`;
  const watchdog = spawn('bash', ['-c', script, 'pixtral-cp-watchdog', dir], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
}
