/**
 * The sidecar's pino logger. Redaction is a second line of defence: the request log line is
 * built field by field and never holds headers or bodies, but a stray `req` or `err` with a
 * request attached must not leak a key either.
 */
import { type Logger, type LoggerOptions, pino } from 'pino';

/** Paths pino masks wherever they appear (style rule S12). */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.apiKey',
  '*.upstreamApiKey',
  '*.image_url.url',
];

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
  // 32 KiB batches (about 100 request lines) per write: each write is a libuv thread-pool task,
  // whose hand-offs cost more than the line itself at thousands of requests per second.
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 32 * 1024, maxWrite: 64 * 1024 });
  setInterval(() => stdout.flush(), flushMs).unref();
  process.once('exit', () => {
    try {
      stdout.flushSync();
    } catch {
      // Nothing more can be done for log lines at exit.
    }
  });
  return pino(options, stdout);
}
