/**
 * The items of requests in progress (the shutdown deadline cuts the relays still open), as a
 * doubly linked list rather than a Set.
 *
 * A Set that gains and loses an entry per request rehashes every few hundred requests, and V8
 * keeps each table it rehashes away from linked to its successor, with the entries it held. Once
 * the garbage collector has moved such a table to the old generation, every young-generation
 * collection treats what it points to as live: the requests in flight at the time survive, are
 * promoted, and keep the next ones alive in turn. Under load that promoted ~2.3 KB per request and
 * ran a full collection every half second (bench/sidecar-proxy.ts: the sidecar's CPU per request
 * against a bare Node proxy; `--trace-gc-nvp` shows the promotions). A list entry drops every
 * pointer it holds when it is removed, so a finished request leaves nothing behind to keep alive.
 */

/** A place in the list: what `add` returns and `delete` takes. */
export interface InFlightEntry<T> {
  value: T | undefined;
  prev: InFlightEntry<T> | undefined;
  next: InFlightEntry<T> | undefined;
}

/** Items in progress, in the order they were added. */
export class InFlight<T> {
  #head: InFlightEntry<T> | undefined;
  #tail: InFlightEntry<T> | undefined;
  #size = 0;

  /** Items in the list. */
  get size(): number {
    return this.#size;
  }

  /** Adds `value` at the end; keep the entry to delete it. */
  add(value: T): InFlightEntry<T> {
    const entry: InFlightEntry<T> = { value, prev: this.#tail, next: undefined };
    if (this.#tail === undefined) this.#head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    this.#size++;
    return entry;
  }

  /** Removes the entry; removing it again does nothing. */
  delete(entry: InFlightEntry<T>): void {
    if (entry.value === undefined) return;
    if (entry.prev === undefined) this.#head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.#tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.value = undefined;
    entry.prev = undefined;
    entry.next = undefined;
    this.#size--;
  }

  /** The items now, oldest first (a copy: deleting while going through it is safe). */
  values(): T[] {
    const out: T[] = [];
    for (let entry = this.#head; entry !== undefined; entry = entry.next) out.push(entry.value as T);
    return out;
  }
}
