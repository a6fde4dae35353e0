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
