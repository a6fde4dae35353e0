/**
 * The memory budget of requests in flight. Each request's cost in bytes (its body, the images it
 * decodes or fetches, the body sent upstream) is admitted against one per-process budget before
 * the work that costs it; past the budget the request gets a 503 with Retry-After instead of the
 * process running out of memory. The budget is derived from the container's memory limit (the
 * cgroup's) and from V8's heap limit, whichever is tighter, since most of a request's bytes are
 * JavaScript strings that count against the heap.
 */
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { memoryBudgetExhausted, overMemoryBudget } from './errors.ts';

/**
 * Bytes a request costs per byte of body, at its peak: the raw body, its text, the parsed value,
 * the JSON text forwarded upstream and undici's copy of it, with some slack for garbage not yet
 * collected (test/sidecar-memory measures the peak against this).
 */
export const COST_PER_BODY_BYTE = 6;
/** Bytes a fetched image costs per byte of it: the bytes, their base64, and the forwarded copy. */
export const COST_PER_FETCHED_BYTE = 4;

/** Memory the process needs besides requests: the runtime, the tokenizer, sockets, buffers. */
const RESERVED_BYTES = 192 * 1024 * 1024;
/** The share of what is left that requests may take: garbage collection needs room to work. */
const REQUEST_SHARE = 0.6;

/** Values at or above this mean "no limit" (cgroup v1 writes about 2^63 when unset). */
const UNLIMITED = 2 ** 60;

/**
 * The container's memory limit from the cgroup (v2 `memory.max`, else v1
 * `memory.limit_in_bytes`), or undefined when there is none. `root` is for tests.
 */
export function cgroupMemoryLimit(root = ''): number | undefined {
  let ownPaths: { v2?: string; v1?: string } = {};
  try {
    ownPaths = ownCgroupPaths(readFileSync(`${root}/proc/self/cgroup`, 'utf8'));
  } catch {}
  const candidates = [
    ...(ownPaths.v2 === undefined ? [] : [`${root}/sys/fs/cgroup${ownPaths.v2}/memory.max`]),
    `${root}/sys/fs/cgroup/memory.max`,
    ...(ownPaths.v1 === undefined
      ? []
      : [`${root}/sys/fs/cgroup/memory${ownPaths.v1}/memory.limit_in_bytes`]),
    `${root}/sys/fs/cgroup/memory/memory.limit_in_bytes`,
  ];
  for (const file of candidates) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    if (text === 'max') return undefined;
    const bytes = Number(text);
    if (Number.isSafeInteger(bytes) && bytes > 0) return bytes < UNLIMITED ? bytes : undefined;
  }
  return undefined;
}

/** The process's cgroup paths from `/proc/self/cgroup` (v2's `0::` line, v1's memory line). */
function ownCgroupPaths(text: string): { v2?: string; v1?: string } {
  const paths: { v2?: string; v1?: string } = {};
  for (const line of text.split('\n')) {
    const [id, controllers, path] = line.split(':', 3);
    if (path === undefined || path === '/') continue;
    if (id === '0' && controllers === '') paths.v2 = path;
    else if (controllers?.split(',').includes('memory')) paths.v1 = path;
  }
  return paths;
}

/**
 * The default budget: a share of what the memory limit and the heap limit leave after the
 * process's own needs. With neither known (no container, a large heap) the heap decides.
 */
export function defaultRequestBudget(memoryLimit: number | undefined, heapLimit: number): number {
  const fromHeap = (heapLimit - RESERVED_BYTES / 2) * REQUEST_SHARE;
  const fromLimit = memoryLimit === undefined ? Infinity : (memoryLimit - RESERVED_BYTES) * REQUEST_SHARE;
  return Math.max(16 * 1024 * 1024, Math.floor(Math.min(fromHeap, fromLimit)));
}

/** The heap limit V8 runs with (from --max-old-space-size, or derived from the machine). */
export function heapLimit(): number {
  return getHeapStatistics().heap_size_limit;
}

/** One request's share of the budget; `release` gives it all back (safe to call twice). */
export interface Admission {
  /** Adds `bytes` to this request's cost; throws the 503 (or 413) when the budget cannot take it. */
  add(bytes: number): void;
  /** Bytes this request holds. */
  readonly bytes: number;
  release(): void;
}

/** The per-process budget of request bytes in flight. */
export class MemoryBudget {
  readonly capacity: number;
  #used = 0;
  readonly #retryAfter: string;

  constructor(capacity: number, retryAfterSeconds: number) {
    this.capacity = capacity;
    this.#retryAfter = String(retryAfterSeconds);
  }

  /** Bytes admitted and not yet released. */
  get used(): number {
    return this.#used;
  }

  /** A new, empty admission for one request. */
  open(): Admission {
    return new RequestAdmission(this);
  }

  /** For a request's admission: takes `bytes` more for a request holding `held`, or throws the refusal. */
  take(held: number, bytes: number): void {
    if (held + bytes > this.capacity) throw overMemoryBudget(held + bytes, this.capacity);
    if (this.#used + bytes > this.capacity) throw memoryBudgetExhausted(this.#retryAfter);
    this.#used += bytes;
  }

  /** For a request's admission: gives back the `bytes` it held. */
  give(bytes: number): void {
    this.#used -= bytes;
  }
}

/**
 * A class rather than an object literal with a getter and three closures: one is made per
 * request, and the literal took about 1 µs of the sidecar's CPU per request (bench:sidecar:profile).
 * `add` and `release` are bound, since they are handed on as callbacks.
 */
class RequestAdmission implements Admission {
  #held = 0;
  #released = false;
  readonly #budget: MemoryBudget;

  constructor(budget: MemoryBudget) {
    this.#budget = budget;
  }

  get bytes(): number {
    return this.#held;
  }

  readonly add = (bytes: number): void => {
    if (bytes <= 0) return;
    this.#budget.take(this.#held, bytes);
    this.#held += bytes;
  };

  readonly release = (): void => {
    if (this.#released) return;
    this.#released = true;
    this.#budget.give(this.#held);
    this.#held = 0;
  };
}
