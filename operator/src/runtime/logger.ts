import { type Logger, pino } from 'pino';

/** Paths pino removes from every log line (style S12): keys and image data never reach logs. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  '*.apiKey',
  '*.apiKeys',
  '*.image_url.url',
  '*.data',
  '*.stringData',
];

/** The operator's JSON logger; children add the resource in context (`log.child({ pxd: 'ns/name' })`). */
export function createLogger(level: string = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { component: 'pixtral-operator' },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
