/**
 * Resident memory and CPU time of processes, sampled from /proc (Linux): the operator's, its
 * peer's and each control-plane component's, so a run shows what bounds it.
 */
import { readFileSync } from 'node:fs';

/** One reading of a process: resident set in bytes and CPU time (user + system) in ms. */
export interface ProcReading {
  rssBytes: number;
  cpuMs: number;
}

/** Reads `pid` from /proc; undefined once it has exited. */
export function readProc(pid: number): ProcReading | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces: utime, stime are 14 and 15, rss 24.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssPages = Number(fields[21]);
    return { rssBytes: rssPages * 4096, cpuMs: ticks * 10 }; // 4 KiB pages, USER_HZ 100
  } catch {
    return undefined;
  }
}

/** What a sampler learned about one named process between two marks. */
export interface ProcStats {
  peakRssBytes: number;
  lastRssBytes: number;
  /** CPU time used since the sampler's `mark`, ms. */
  cpuMs: number;
}

/**
 * Samples named processes every `intervalMs`: peak RSS, and CPU time since the last `mark()`
 * (a phase of the run: loading, the quiet window).
 */
export class ProcSampler {
  readonly #pids = new Map<string, number>();
  readonly #peak = new Map<string, number>();
  readonly #last = new Map<string, ProcReading>();
  readonly #base = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 1000) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Starts following `pid` under `name` (CPU counted from now). */
  add(name: string, pid: number): void {
    this.#pids.set(name, pid);
    this.#peak.set(name, 0);
    this.#base.set(name, readProc(pid)?.cpuMs ?? 0);
    this.sample();
  }

  /** Reads every followed process now. */
  sample(): void {
    for (const [name, pid] of this.#pids) {
      const reading = readProc(pid);
      if (!reading) continue;
      this.#last.set(name, reading);
      this.#peak.set(name, Math.max(this.#peak.get(name) ?? 0, reading.rssBytes));
    }
  }

  /** Starts a new phase: CPU counts from here, peaks restart from the current RSS. */
  mark(): void {
    this.sample();
    for (const name of this.#pids.keys()) {
      this.#base.set(name, this.#last.get(name)?.cpuMs ?? 0);
      this.#peak.set(name, this.#last.get(name)?.rssBytes ?? 0);
    }
  }

  /** Stats of `name` in the current phase. */
  stats(name: string): ProcStats {
    this.sample();
    const last = this.#last.get(name);
    return {
      peakRssBytes: this.#peak.get(name) ?? 0,
      lastRssBytes: last?.rssBytes ?? 0,
      cpuMs: (last?.cpuMs ?? 0) - (this.#base.get(name) ?? 0),
    };
  }

  /** Names followed, in the order added. */
  get names(): string[] {
    return [...this.#pids.keys()];
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
