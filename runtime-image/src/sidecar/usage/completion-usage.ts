/**
 * Reads vLLM's completion token count out of the answer while it is relayed, without holding the
 * answer: a non-stream body is scanned chunk by chunk for its `usage` object, a stream
 * event by event for the usage chunk. When the client did not ask for usage in a stream, the
 * sidecar asks vLLM for it (`stream_options.include_usage`) and drops that chunk again, so the
 * client gets the events it asked for. Hand-written: no SSE library rewrites a pass-through
 * byte stream event by event at this cost.
 */
import type { ChatCompletionRequest } from '../chat-request.ts';

/** The request to send vLLM, and whether the usage chunk must be dropped from the answer. */
export function requestUsage(request: ChatCompletionRequest): {
  request: ChatCompletionRequest;
  stripUsageChunk: boolean;
} {
  if (request.stream !== true) return { request, stripUsageChunk: false };
  const options = request.stream_options as { include_usage?: boolean } | null | undefined;
  if (options?.include_usage === true) return { request, stripUsageChunk: false };
  return {
    // continuous_usage_stats only acts with include_usage: off, so the client's chunks stay as they were.
    request: {
      ...request,
      stream_options: { ...(options ?? {}), include_usage: true, continuous_usage_stats: false },
    },
    stripUsageChunk: true,
  };
}

const EMPTY = Buffer.alloc(0);
const EVENT_END = Buffer.from('\n\n');
const USAGE_OBJECT = Buffer.from('"usage":{');
/** Bytes of a JSON body carried from one chunk to the next: more than a `usage` object takes. */
const CARRY_BYTES = 1024;
const QUOTE = 0x22;
/** Enough of two chunks' edges to find a marker cut between them. */
const MARKER_TAIL = USAGE_OBJECT.length - 1;
/** An SSE event longer than this without its end is not vLLM's; stop looking rather than hold it. */
const MAX_EVENT_BYTES = 1 << 20;
const COMPLETION_TOKENS = /"usage":\s*\{[^{}]*?"completion_tokens":\s*(\d+)/g;

const COMPLETION_KEY = Buffer.from('"completion_tokens":');
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * The count in the usage object that starts at `at` in `bytes`, read from the bytes (what the
 * regex below reads from a string, without decoding 1 KB and building match arrays on every
 * answer); undefined when it is not there in the simple form vLLM writes, and the caller falls
 * back to the regex.
 */
function completionTokensAt(bytes: Buffer, at: number): number | undefined {
  const key = bytes.indexOf(COMPLETION_KEY, at + USAGE_OBJECT.length);
  if (key === -1 || key - at > CARRY_BYTES) return undefined;
  // The key must be this object's, not a nested one's.
  for (let i = at + USAGE_OBJECT.length; i < key; i++) {
    const b = bytes[i];
    if (b === OPEN_BRACE || b === CLOSE_BRACE) return undefined;
  }
  let i = key + COMPLETION_KEY.length;
  while (bytes[i] === SPACE) i++;
  let value = 0;
  const first = i;
  for (; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b < DIGIT_0 || b > DIGIT_9) break;
    value = value * 10 + (b - DIGIT_0);
  }
  // No digits, or a number cut at the chunk's end: let the general path decide.
  if (i === first || i === bytes.length) return undefined;
  return value;
}

function lastCompletionTokens(text: string): number | undefined {
  let found: number | undefined;
  for (const m of text.matchAll(COMPLETION_TOKENS)) found = Number(m[1]);
  return found;
}

/**
 * Watches one answer's bytes. `data` returns what to send the client in place of the chunk (the
 * same buffer unless a usage chunk is dropped); `end` returns bytes still held back, to send
 * before ending.
 */
export class CompletionUsage {
  /** vLLM's completion_tokens, once seen. */
  completionTokens: number | undefined;
  private readonly strip: boolean;
  /** Stripping: the incomplete event held back. */
  private pending: Buffer = EMPTY;
  /** Scanning: the end of the previous chunk. */
  private carry: Buffer = EMPTY;
  private unfinished = false;
  private gaveUp = false;

  constructor(options: { stream: boolean; stripUsageChunk: boolean }) {
    this.strip = options.stripUsageChunk;
  }

  data(chunk: Buffer): Buffer {
    if (this.gaveUp) return chunk;
    if (!this.strip) {
      this.scan(chunk);
      return chunk;
    }
    return this.filterEvents(chunk);
  }

  end(): Buffer | undefined {
    const rest = this.pending;
    this.pending = EMPTY;
    this.carry = EMPTY;
    if (this.strip && rest.length > 0) return this.isUsageEvent(rest) ? undefined : rest;
    return undefined;
  }

  /**
   * Bytes that pass unchanged (a JSON body, or a stream whose client asked for usage): only a
   * chunk holding a usage object is read, with the end of the previous chunk carried over in
   * case the object straddles the two.
   */
  private scan(chunk: Buffer): void {
    const carry = this.carry;
    // A marker cut in two leaves its opening quote in the carry: most chunks are spared the check.
    const straddles =
      carry.indexOf(QUOTE) !== -1 &&
      Buffer.concat([carry.subarray(-MARKER_TAIL), chunk.subarray(0, MARKER_TAIL)]).indexOf(USAGE_OBJECT) !==
        -1;
    if (this.unfinished || straddles) {
      this.scanText((carry.length === 0 ? chunk : Buffer.concat([carry, chunk])).toString('utf8'));
    } else {
      // The common case, a whole usage object in this chunk: only the last one is read, and only
      // from its marker on (vLLM writes usage at the end of a body), not the whole answer.
      const at = chunk.lastIndexOf(USAGE_OBJECT);
      if (at !== -1) {
        const tokens =
          completionTokensAt(chunk, at) ??
          lastCompletionTokens(chunk.toString('latin1', at, Math.min(chunk.length, at + CARRY_BYTES)));
        if (tokens !== undefined) {
          this.completionTokens = tokens;
          this.unfinished = false;
        } else {
          this.scanText(chunk.toString('utf8'));
        }
      }
    }
    // Carried: from the usage object on while it is unfinished, else just enough to see a marker cut in two.
    const keep = this.unfinished ? CARRY_BYTES : MARKER_TAIL;
    const joined = chunk.length >= keep || carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    this.carry = Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
  }

  /** Reads every usage object's count in `text`; notes a usage object whose count is still to come. */
  private scanText(text: string): void {
    let lastMatch = -1;
    for (const m of text.matchAll(COMPLETION_TOKENS)) {
      this.completionTokens = Number(m[1]);
      lastMatch = m.index;
    }
    // A usage object whose count has not arrived yet: read again with the next chunk.
    this.unfinished = text.lastIndexOf('"usage":{') > lastMatch;
  }

  /** The sidecar asked for usage: whole events go through, the usage event is dropped. */
  private filterEvents(chunk: Buffer): Buffer {
    const { complete, rest } = this.split(chunk);
    const out = this.withoutUsageEvent(complete);
    // Held bytes are sent once their event is complete, or at once when we stop looking.
    return this.hold(rest) ? out : Buffer.concat([out, rest]);
  }

  /** Held bytes plus `chunk`, cut after the last complete event. */
  private split(chunk: Buffer): { complete: Buffer; rest: Buffer } {
    const joined = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const last = joined.lastIndexOf(EVENT_END);
    if (last === -1) return { complete: EMPTY, rest: joined };
    return { complete: joined.subarray(0, last + 2), rest: joined.subarray(last + 2) };
  }

  private withoutUsageEvent(events: Buffer): Buffer {
    const usageAt = events.indexOf(USAGE_OBJECT);
    // The common case: no usage in these events, send them as they are.
    if (usageAt === -1) return events;
    const before = events.lastIndexOf(EVENT_END, usageAt);
    const start = before === -1 ? 0 : before + 2;
    const end = events.indexOf(EVENT_END, usageAt) + 2;
    if (!this.isUsageEvent(events.subarray(start, end))) return events;
    return Buffer.concat([events.subarray(0, start), events.subarray(end)]);
  }

  /** A usage event has `"choices":[]` and a usage object; its count is kept. */
  private isUsageEvent(event: Buffer): boolean {
    const text = event.toString('utf8');
    if (!text.includes('"choices":[]')) return false;
    const tokens = lastCompletionTokens(text);
    if (tokens === undefined) return false;
    this.completionTokens = tokens;
    return true;
  }

  /** Keeps `rest` for the next chunk; false (and keeps nothing) when it is too long to be an SSE event. */
  private hold(rest: Buffer): boolean {
    if (rest.length > MAX_EVENT_BYTES) {
      // Not an SSE stream we understand: stop counting, pass everything from here on.
      this.gaveUp = true;
      this.pending = EMPTY;
      return false;
    }
    this.pending = rest.length === 0 ? EMPTY : Buffer.from(rest);
    return true;
  }
}
