/**
 * One copy of each repeated string in the cached objects. `JSON.parse` makes a new string for
 * every value it reads, so 1,000 deployments' cached objects held 6,000 copies of the API group,
 * 3,000 of each image name and 2,000 of each condition message: 7 MB of a 69 MB heap were
 * duplicate copies. V8 shares property names only. Written by hand: it is a map lookup per
 * string, and no JSON library offers it.
 *
 * The table is bounded: once it holds `limit` strings it starts over, so it never keeps the
 * strings of objects long deleted; objects stored before then keep the copies they share.
 */

/** Fields whose values differ on every object or every write: sharing them saves nothing. */
const UNIQUE_VALUES = new Set([
  'uid',
  'digest',
  'resourceVersion',
  'creationTimestamp',
  'deletionTimestamp',
  'lastTransitionTime',
  'lastUpdateTime',
  'lastProbeTime',
  'time',
  'startTime',
  'startedAt',
  'finishedAt',
  'containerID',
  'imageID',
  'podIP',
  'hostIP',
  'ip',
]);
/** Longer strings rarely repeat (certificates, logs in messages). */
const LONGEST_SHARED = 256;

/** A bounded table of strings, and deep copies of JSON data that use it. */
export class SharedStrings {
  readonly #limit: number;
  readonly #strings = new Map<string, string>();

  constructor(limit = 50_000) {
    this.#limit = limit;
  }

  /** How many strings the table holds. */
  get size(): number {
    return this.#strings.size;
  }

  /** The table's copy of `value`. */
  share(value: string): string {
    if (value.length > LONGEST_SHARED) return value;
    const found = this.#strings.get(value);
    if (found !== undefined) return found;
    if (this.#strings.size >= this.#limit) this.#strings.clear();
    this.#strings.set(value, value);
    return value;
  }

  /** A copy of `value` (JSON data: no cycles) whose strings are the table's; `value` is unchanged. */
  copy<T>(value: T): T {
    if (typeof value === 'string') return this.share(value) as T;
    if (Array.isArray(value)) return value.map((item) => this.copy(item)) as T;
    if (value === null || typeof value !== 'object') return value;
    const copied: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      copied[key] = UNIQUE_VALUES.has(key) ? item : this.copy(item);
    return copied as T;
  }
}
