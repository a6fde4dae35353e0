/**
 * Reads vLLM's completion token count out of the answer while it is relayed, without holding the
 * answer: a non-stream body is scanned chunk by chunk for its `usage` object, a stream
 * event by event for the usage chunk. When the client did not ask for usage in a stream, the
 * sidecar asks vLLM for it (`stream_options.include_usage`) and drops that chunk again, so the
 * client gets the events it asked for. Hand-written: no SSE library rewrites a pass-through
 * byte stream event by event at this cost.
 */
import type { ChatCompletionRequest } from '../prepare.ts';

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
/** An SSE event longer than this without its end is not vLLM's; stop looking rather than hold it. */
const MAX_EVENT_BYTES = 1 << 20;
const COMPLETION_TOKENS = /"usage":\s*\{[^{}]*?"completion_tokens":\s*(\d+)/g;

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
  private readonly stream: boolean;
  private readonly strip: boolean;
  private pending: Buffer = EMPTY;
  private gaveUp = false;

  constructor(options: { stream: boolean; stripUsageChunk: boolean }) {
    this.stream = options.stream;
    this.strip = options.stripUsageChunk;
  }

  data(chunk: Buffer): Buffer {
    if (this.gaveUp) return chunk;
    if (!this.stream) {
      this.scanBody(chunk);
      return chunk;
    }
    return this.strip ? this.filterEvents(chunk) : this.watchEvents(chunk);
  }

  end(): Buffer | undefined {
    if (!this.stream) {
      this.pending = EMPTY;
      return undefined;
    }
    const rest = this.pending;
    this.pending = EMPTY;
    if (this.strip && rest.length > 0) return this.isUsageEvent(rest) ? undefined : rest;
    return undefined;
  }

  /**
   * A JSON body: `usage` is found as it goes by, with the end of the previous chunk carried over
   * in case the object straddles two chunks (fields after it, like prompt_logprobs, can be long).
   */
  private scanBody(chunk: Buffer): void {
    const joined = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (joined.indexOf(USAGE_OBJECT) !== -1) {
      const tokens = lastCompletionTokens(joined.toString('utf8'));
      if (tokens !== undefined) this.completionTokens = tokens;
    }
    this.pending = Buffer.from(joined.subarray(Math.max(0, joined.length - CARRY_BYTES)));
  }

  /** The client asked for usage: pass everything, read the usage event as it goes by. */
  private watchEvents(chunk: Buffer): Buffer {
    const { complete, rest } = this.split(chunk);
    if (complete.indexOf(USAGE_OBJECT) !== -1) {
      const tokens = lastCompletionTokens(complete.toString('utf8'));
      if (tokens !== undefined) this.completionTokens = tokens;
    }
    this.hold(rest);
    return chunk;
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
