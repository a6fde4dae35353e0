/**
 * Reads a JSON request body once, with the size limit enforced while the bytes arrive (so an
 * oversize upload is refused before it is all in memory) and a strict content type (parser
 * differentials on Content-Type are a known smuggling route, notes/reliability.md B3.3).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest, tooLarge } from './errors.ts';

const JSON_TYPE = /^application\/json[ \t]*(?:;[ \t]*charset="?utf-8"?[ \t]*)?$/i;

/** Throws 415 unless the Content-Type is `application/json`, optionally with `charset=utf-8`. */
export function checkContentType(header: string | undefined): void {
  if (header === undefined || !JSON_TYPE.test(header)) {
    throw new ApiError({
      status: 415,
      type: 'invalid_request_error',
      reason: 'unsupported_media_type',
      message: 'Content-Type must be application/json.',
    });
  }
}

function bodyTooLarge(limit: number): ApiError {
  return tooLarge('body_too_large', `The request body exceeds the limit of ${limit} bytes.`);
}

/**
 * Reads the whole body (at most `limit` bytes) and parses it as JSON.
 * Throws 413 past the limit and 400 for invalid JSON. Resolves with the parsed value and its size.
 */
export function readJsonBody(
  req: IncomingMessage,
  limit: number,
): Promise<{ value: unknown; bytes: number }> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(bodyTooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(bodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      const text =
        chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
      try {
        resolve({ value: JSON.parse(text), bytes: size });
      } catch {
        reject(badRequest('invalid_json', 'The request body is not valid JSON.'));
      }
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
