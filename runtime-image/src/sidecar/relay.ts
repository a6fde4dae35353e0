/**
 * Moves vLLM's response to the client: bytes unchanged, chunk by chunk, with backpressure (a
 * slow reader pauses the read from vLLM, so memory stays bounded whatever the answer's length).
 * When vLLM fails in the middle of an SSE stream, the client gets an SSE error event in vLLM's
 * own shape and a `[DONE]`, never a silent hang (unjs/httpxy#103 shows the failure mode).
 */
import type { ServerResponse } from 'node:http';
import type { ApiError } from './errors.ts';
import type { UpstreamResponse } from './upstream.ts';

/** How a relay ended. */
export type RelayOutcome = 'complete' | 'client_gone' | 'upstream_failed' | 'interrupted';

/** A relay in progress: its end, and a way to cut it (shutdown deadline). */
export interface Relay {
  done: Promise<RelayOutcome>;
  /** Ends the response now; an SSE stream first gets `error` as an error event. */
  interrupt(error: ApiError): void;
  /** Body bytes written so far. */
  bytes(): number;
}

const LF = 0x0a;

/** Renders an SSE error event the way vLLM does after a 200 (`create_streaming_error_response`). */
export function sseErrorEvent(error: ApiError, atBoundary: boolean): string {
  // A cut in the middle of an event would glue our event onto a half-written line.
  const lead = atBoundary ? '' : '\n\n';
  return `${lead}data: ${JSON.stringify(error.toBody())}\n\ndata: [DONE]\n\n`;
}

/**
 * Starts relaying `upstream` into `res` (status and content headers included).
 * `onUpstreamError` turns an upstream body failure into the error shown to the client.
 */
export function relay(
  res: ServerResponse,
  upstream: UpstreamResponse,
  onUpstreamError: (error: unknown) => ApiError,
): Relay {
  const contentType = upstream.headers['content-type'];
  const sse = typeof contentType === 'string' && contentType.startsWith('text/event-stream');
  const headers: Record<string, string> = {};
  if (typeof contentType === 'string') headers['content-type'] = contentType;
  const length = upstream.headers['content-length'];
  if (!sse && typeof length === 'string') headers['content-length'] = length;
  if (sse) {
    headers['cache-control'] = 'no-cache';
    // Ingress-nginx buffers responses unless told not to; SSE must flow event by event.
    headers['x-accel-buffering'] = 'no';
  }
  res.writeHead(upstream.statusCode, headers);

  const body = upstream.body;
  let written = 0;
  let atBoundary = true;
  let lastByte = LF;
  let settled = false;
  let resolveDone: (outcome: RelayOutcome) => void = () => {};
  const done = new Promise<RelayOutcome>((resolve) => {
    resolveDone = resolve;
  });

  const finish = (outcome: RelayOutcome): void => {
    if (settled) return;
    settled = true;
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('error', onError);
    res.off('close', onClose);
    res.off('drain', onDrain);
    resolveDone(outcome);
  };
  const endWithError = (error: ApiError, outcome: RelayOutcome): void => {
    if (sse && !res.destroyed) {
      res.end(sseErrorEvent(error, atBoundary));
    } else {
      // A half-sent JSON body cannot be repaired; a cut connection tells the client it failed.
      res.destroy();
    }
    body.destroy();
    finish(outcome);
  };

  const onData = (chunk: Buffer): void => {
    written += chunk.length;
    const n = chunk.length;
    atBoundary = n >= 2 ? chunk[n - 1] === LF && chunk[n - 2] === LF : chunk[0] === LF && lastByte === LF;
    lastByte = chunk[n - 1] ?? lastByte;
    if (!res.write(chunk)) body.pause();
  };
  const onDrain = (): void => {
    body.resume();
  };
  const onEnd = (): void => {
    res.end();
    finish('complete');
  };
  const onError = (error: unknown): void => {
    if (res.destroyed || res.writableEnded) {
      finish('client_gone');
      return;
    }
    endWithError(onUpstreamError(error), 'upstream_failed');
  };
  const onClose = (): void => {
    if (!res.writableFinished) {
      body.destroy();
      finish('client_gone');
    }
  };

  body.on('data', onData);
  body.on('end', onEnd);
  body.on('error', onError);
  res.on('drain', onDrain);
  res.on('close', onClose);

  return {
    done,
    bytes: () => written,
    interrupt: (error) => {
      if (!settled) endWithError(error, 'interrupted');
    },
  };
}
