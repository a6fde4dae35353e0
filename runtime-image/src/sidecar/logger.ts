/**
 * The sidecar's pino logger. Redaction is a second line of defence: the request log line is
 * built field by field and never holds headers or bodies, but a stray `req` or `err` with a
 * request attached must not leak a key either.
 */
import { type Logger, type LoggerOptions, pino } from 'pino';

/** Paths pino masks wherever they appear (docs/conventions.md#logs). */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.apiKey',
  '*.upstreamApiKey',
  '*.image_url.url',
];

/** Characters of log lines gathered before they go to the writer in one piece. */
const BATCH_CHARS = 16 * 1024;

/**
 * Creates the JSON logger at `level`, writing to `destination`, or by default to stdout through
 * a buffered asynchronous writer: a synchronous write per request line was the largest single
 * cost in the proxy benchmark. Lines reach stdout within `flushMs` (default 1000) and are
 * flushed on exit (a SIGKILL loses at most that second of lines).
 */
export function createLogger(
  level: LoggerOptions['level'],
  destination?: NodeJS.WritableStream,
  flushMs = 1_000,
): Logger {
  const options: LoggerOptions = { level, base: { component: 'sidecar' }, redact: REDACT_PATHS };
  if (destination !== undefined) return pino(options, destination);
  // sonic-boom (pino.destination) does the file descriptor work: async writes, partial writes,
  // EAGAIN, a synchronous flush at exit. Its own buffering (minLength) is not used: it measures
  // the whole pending string (Buffer.byteLength) on every line, which cost more per request than
  // the line itself (bench/sidecar-proxy-profile.ts). Lines are joined here instead, and the
  // writer gets one string per ~16 KiB.
  const stdout = pino.destination({ dest: 1, sync: false });
  let lines: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (lines.length === 0) return;
    stdout.write(lines.join(''));
    lines = [];
    size = 0;
  };
  const batched = {
    write(line: string): boolean {
      lines.push(line);
      size += line.length;
      if (size >= BATCH_CHARS) flush();
      return true;
    },
  };
  setInterval(flush, flushMs).unref();
  process.once('exit', () => {
    try {
      flush();
      stdout.flushSync();
    } catch {
      // Nothing more can be done for log lines at exit.
    }
  });
  return pino(options, batched as unknown as NodeJS.WritableStream);
}

type LoggerInternals = Record<symbol, unknown> & Logger;

/**
 * The per-request log line, written as `logger.info(fields, msg)` (or `.debug`) would write it,
 * to the same destination and in the same JSON (pino's level and time prefix, the logger's
 * bindings, the fields, the message), but with one `JSON.stringify` of the fields. pino's own
 * serialization of the line's fifteen fields, one by one, cost ~7 µs per request in the server
 * (bench/sidecar-proxy.ts), more than any check the request goes through. Only for fields that
 * are never secret (no redaction) and hold plain strings, numbers and booleans.
 */
export function requestLineWriter(
  logger: Logger,
  msg: string,
): (level: 'info' | 'debug', fields: object) => void {
  const internals = logger as LoggerInternals;
  const { streamSym, lsCacheSym, timeSym, chindingsSym, endSym } = pino.symbols;
  const tail = `,"msg":${JSON.stringify(msg)}${internals[endSym] as string}`;
  return (level, fields) => {
    const value = logger.levels.values[level] as number;
    if (value < logger.levelVal) return;
    const prefix = (internals[lsCacheSym] as Record<number, string>)[value] as string;
    const time = (internals[timeSym] as () => string)();
    const json = JSON.stringify(fields);
    const body = json.length > 2 ? `,${json.slice(1, -1)}` : '';
    const stream = internals[streamSym] as { write(line: string): unknown };
    stream.write(`${prefix}${time}${internals[chindingsSym] as string}${body}${tail}`);
  };
}
