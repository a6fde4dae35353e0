/**
 * Reads a JSON request body once, with the size limit enforced while the bytes arrive (so an
 * oversize upload is refused before it is all in memory), a strict content type (parser
 * differentials on Content-Type are a known smuggling route), no content coding, strict UTF-8,
 * and the structure bounds of json-bounds.ts checked before `JSON.parse` builds anything.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { badRequest, bodyTooLarge, unsupportedContentEncoding, unsupportedMediaType } from './errors.ts';
import { checkJsonBounds, findLoneSurrogate, type JsonBounds } from './json-bounds.ts';

const JSON_TYPE = /^application\/json[ \t]*(?:;[ \t]*charset="?utf-8"?[ \t]*)?$/i;

/** Throws 415 unless the Content-Type is `application/json`, optionally with `charset=utf-8`. */
export function checkContentType(header: string | undefined): void {
  if (header === undefined || !JSON_TYPE.test(header)) throw unsupportedMediaType();
}

/**
 * Throws 415 for any Content-Encoding but `identity`. Decoding gzip would need its own output
 * limit (a 64 KiB bomb inflates to gigabytes) for no gain on a loopback hop; OpenAI's clients
 * do not compress request bodies.
 */
export function checkContentEncoding(header: string | undefined): void {
  if (header === undefined) return;
  const coding = header.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return;
  throw unsupportedContentEncoding(header);
}

/** How a body is read: its size limit, its structure bounds, and the memory admission. */
export interface BodyLimits extends JsonBounds {
  /** Largest body in bytes (MAX_BODY_BYTES). */
  maxBytes: number;
  /**
   * Called with the declared Content-Length before any byte is read, then with each chunk's size
   * beyond what was declared; throws (a 503) to refuse, after the rest of the body is read and
   * dropped. Default: no admission.
   */
  admit?: (bytes: number) => void;
}

/**
 * Reads the whole body and parses it as JSON. Throws 413 past the size limit; 400 for invalid
 * UTF-8, a structure over the bounds, invalid JSON, or a string with a lone surrogate (naming
 * its field). Resolves with the parsed value and its size.
 */
export function readJsonBody(
  req: IncomingMessage,
  limits: BodyLimits,
): Promise<{ value: unknown; bytes: number }> {
  const limit = limits.maxBytes;
  const declaredHeader = req.headers['content-length'];
  const declared = declaredHeader === undefined ? 0 : Number(declaredHeader);
  if (declared > limit) return Promise.reject(bodyTooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // A refusal of admission (the memory budget is spent) is sent once the body has been read
    // and dropped: the client is legitimate and should see the 503, which a client still
    // uploading would not if the connection closed under it. Dropped bytes cost no memory.
    let refusal: { error: unknown } | undefined;
    const admit = (bytes: number): void => {
      if (refusal !== undefined || limits.admit === undefined) return;
      try {
        limits.admit(bytes);
      } catch (error) {
        refusal = { error };
        chunks.length = 0;
      }
    };
    admit(declared);
    const fail = (error: unknown): void => {
      cleanup();
      req.pause();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      const before = size;
      size += chunk.length;
      if (size > limit) {
        fail(bodyTooLarge(limit));
        return;
      }
      if (size > declared) admit(size - Math.max(before, declared));
      if (refusal === undefined) chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      if (refusal !== undefined) {
        reject(refusal.error);
        return;
      }
      const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      chunks.length = 0;
      if (bytes.length >= PACED_BYTES) {
        parseLargeBody(bytes, limits).then((value) => resolve({ value, bytes: size }), reject);
        return;
      }
      try {
        resolve({ value: parseBody(bytes, limits), bytes: size });
      } catch (error) {
        reject(error);
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

/**
 * Bodies from this size on give the event loop a turn between the steps of their parse: each
 * step over a 4 MB body takes 1-10 ms of CPU, all of them together long enough to delay /health.
 */
const PACED_BYTES = 1024 * 1024;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The checks and the parse of a complete body. */
export function parseBody(bytes: Buffer, bounds: JsonBounds): unknown {
  checkBytes(bytes, bounds);
  const value = parseJson(bytes.toString('utf8'));
  checkStrings(value);
  return value;
}

/** parseBody with a turn for the event loop between its steps. */
export async function parseLargeBody(bytes: Buffer, bounds: JsonBounds): Promise<unknown> {
  checkBytes(bytes, bounds);
  await turn();
  const text = bytes.toString('utf8');
  await turn();
  const value = parseJson(text);
  await turn();
  checkStrings(value);
  return value;
}

/** 400 for invalid UTF-8 or a structure over the bounds, before anything is built from the bytes. */
function checkBytes(bytes: Buffer, bounds: JsonBounds): void {
  if (!isUtf8(bytes)) throw badRequest('invalid_utf8', 'The request body is not valid UTF-8.');
  checkJsonBounds(bytes, bounds);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('invalid_json', 'The request body is not valid JSON.');
  }
}

/** 400 naming the first string with a lone surrogate. */
function checkStrings(value: unknown): void {
  const lone = findLoneSurrogate(value);
  if (lone !== undefined) {
    throw badRequest(
      'lone_surrogate',
      `The string at ${lone} holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff), which has no UTF-8 form.`,
      lone,
    );
  }
}
