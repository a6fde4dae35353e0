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

/** Creates the JSON logger at `level`, writing to `destination` (stdout by default). */
export function createLogger(level: LoggerOptions['level'], destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = { level, base: { component: 'sidecar' }, redact: REDACT_PATHS };
  return destination === undefined ? pino(options) : pino(options, destination);
}
