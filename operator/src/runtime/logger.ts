import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

/** Paths pino removes from every log line (docs/conventions.md#logs): keys and image data never reach logs. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  '*.apiKey',
  '*.apiKeys',
  '*.image_url.url',
  '*.data',
  '*.stringData',
];

/** How log lines are written: JSON objects, human lines, or human lines only on a terminal. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** The operator's JSON logger; children add the resource in context (`log.child({ pxd: 'ns/name' })`). */
export function createOperatorLogger(level: string = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { component: 'pixtral-operator' },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

/** Whether `format` asks for human lines on `out` (`auto`: when it is a terminal). */
export function humanOutput(format: LogFormat, out: { isTTY?: boolean } = process.stdout): boolean {
  return format === 'pretty' || (format === 'auto' && out.isTTY === true);
}

/**
 * The process's logger on stdout: JSON lines, or pino-pretty's short lines (time, level, message,
 * then the fields on the same line) when `humanOutput` says so. Written synchronously, so the
 * last lines before exit are never lost.
 */
export function createProcessLogger(level: string, format: LogFormat): Logger {
  if (!humanOutput(format)) return createOperatorLogger(level);
  return createOperatorLogger(
    level,
    pretty({
      sync: true,
      colorize: process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname,component',
      singleLine: true,
    }),
  );
}
