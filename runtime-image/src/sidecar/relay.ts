/**
 * Moves vLLM's response to the client: bytes unchanged, chunk by chunk, with backpressure (a
 * slow reader pauses the read from vLLM, so memory stays bounded whatever the answer's length).
 * When vLLM fails in the middle of an SSE stream, the client gets an SSE error event in vLLM's
 * own shape and a `[DONE]`, never a silent hang (unjs/httpxy#103 shows the failure mode).
 *
 * The relay is an undici dispatch handler rather than a `request()` body stream: the chunks go
 * straight from undici's parser to the client socket, which keeps the proxy's per-request cost
 * close to a bare pipe (see bench/sidecar-proxy.ts).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ApiError } from './errors.ts';
import { codeOf } from './upstream.ts';

/**
 * Sees the answer's bytes on their way to the client and may change them (usage/completion-usage.ts
 * reads vLLM's usage and drops the usage chunk the sidecar asked for): `data` returns what to send
 * instead of the chunk, `end` what is still held back.
 */
export interface ResponseTap {
  data(chunk: Buffer): Buffer;
  end(): Buffer | undefined;
}

/** How a relay ended. */
export type RelayOutcome = 'complete' | 'client_gone' | 'upstream_failed' | 'interrupted';

const LF = 0x0a;

/** Renders an SSE error event the way vLLM does after a 200 (`create_streaming_error_response`). */
function sseErrorEvent(error: ApiError, atBoundary: boolean): string {
  // A cut in the middle of an event would glue our event onto a half-written line.
  const lead = atBoundary ? '' : '\n\n';
  return `${lead}data: ${JSON.stringify(error.toBody())}\n\ndata: [DONE]\n\n`;
}

/**
 * Relays one upstream exchange into `res`. `done` resolves with the outcome once the client
 * response is over, or rejects with the ApiError to send when vLLM failed before answering.
 */
export class Relay implements Dispatcher.DispatchHandler {
  /** Settles when the exchange is over (see class doc). */
  readonly done: Promise<RelayOutcome>;
  /** Milliseconds (performance.now) when vLLM's response headers arrived. */
  headersAt = 0;
  /** Body bytes relayed so far. */
  bytes = 0;
  /** The undici error code when vLLM failed, for the log line. */
  failure: string | undefined;
  /** Called once when vLLM's response headers arrive (it has read the whole request by then). */
  onHeaders: (() => void) | undefined;
  /** Watches (and may rewrite) the body on its way to the client. */
  tap: ResponseTap | undefined;

  private readonly res: ServerResponse;
  private readonly mapError: (error: unknown) => ApiError;
  private controller: Dispatcher.DispatchController | undefined;
  private pendingAbort: Error | undefined;
  private sse = false;
  private waitingForDrain = false;
  private started = false;
  private settled = false;
  private atBoundary = true;
  private lastByte = LF;
  private resolve: (outcome: RelayOutcome) => void = () => {};
  private reject: (error: unknown) => void = () => {};

  constructor(res: ServerResponse, mapError: (error: unknown) => ApiError) {
    this.res = res;
    this.mapError = mapError;
    this.done = new Promise<RelayOutcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Stops the upstream exchange (client gone); safe before the request has started. */
  abort(reason: Error): void {
    this.finish('client_gone');
    if (this.controller === undefined) this.pendingAbort = reason;
    else this.controller.abort(reason);
  }

  /** Ends the response now (shutdown deadline); an SSE stream first gets `error` as an event. */
  interrupt(error: ApiError): void {
    if (this.settled) return;
    if (this.started) {
      this.endWithError(error);
      this.finish('interrupted');
    } else {
      this.fail(error);
    }
    // After settling: the abort calls onResponseError synchronously, which must now be a no-op.
    this.controller?.abort(error);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort !== undefined) controller.abort(this.pendingAbort);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (this.settled) return;
    this.headersAt = performance.now();
    this.started = true;
    this.onHeaders?.();
    const contentType = headers['content-type'];
    const out: Record<string, string> = {};
    if (typeof contentType === 'string') {
      out['content-type'] = contentType;
      this.sse = contentType.startsWith('text/event-stream');
    }
    const length = headers['content-length'];
    if (!this.sse && typeof length === 'string') out['content-length'] = length;
    if (this.sse) {
      out['cache-control'] = 'no-cache';
      // Ingress-nginx buffers responses unless told not to; SSE must flow event by event.
      out['x-accel-buffering'] = 'no';
    }
    this.res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, data: Buffer): void {
    if (this.settled) return;
    const chunk = this.tap === undefined ? data : this.tap.data(data);
    const n = chunk.length;
    if (n === 0) return;
    this.bytes += n;
    this.atBoundary =
      n >= 2 ? chunk[n - 1] === LF && chunk[n - 2] === LF : chunk[0] === LF && this.lastByte === LF;
    this.lastByte = chunk[n - 1] ?? this.lastByte;
    // The drain listener is added only when the client falls behind: most answers never do.
    if (!this.res.write(chunk) && !this.waitingForDrain) {
      controller.pause();
      this.waitingForDrain = true;
      this.res.once('drain', this.onDrain);
    }
  }

  onResponseEnd(): void {
    if (this.settled) return;
    const rest = this.tap?.end();
    if (rest !== undefined) this.bytes += rest.length;
    this.res.end(rest);
    this.finish('complete');
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.settled) return;
    this.failure = codeOf(error) ?? error.name;
    const apiError = this.mapError(error);
    if (!this.started) {
      this.fail(apiError);
      return;
    }
    this.endWithError(apiError);
    this.finish('upstream_failed');
  }

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    if (!this.settled) this.controller?.resume();
  };

  private endWithError(error: ApiError): void {
    if (this.sse && !this.res.destroyed) {
      this.res.end(sseErrorEvent(error, this.atBoundary));
    } else {
      // A half-sent JSON body cannot be repaired; a cut connection tells the client it failed.
      this.res.destroy();
    }
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (this.waitingForDrain) this.res.off('drain', this.onDrain);
    this.reject(error);
  }

  private finish(outcome: RelayOutcome): void {
    if (this.settled) return;
    this.settled = true;
    if (this.waitingForDrain) this.res.off('drain', this.onDrain);
    this.resolve(outcome);
  }
}
