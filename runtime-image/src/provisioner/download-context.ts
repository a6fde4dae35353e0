/**
 * What one download run shares with its parts (download.ts and fetch-run.ts): its own module so
 * neither of them imports the other for a type.
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Progress } from './progress.ts';
import type { RetryPolicy } from './retry.ts';

/** Everything a download needs besides the file. */
export interface DownloadContext {
  dispatcher: Dispatcher;
  url: string;
  token: string | undefined;
  target: string;
  parallelism: number;
  /** Files of at least twice this size go as ranges of this size when the server supports Range. */
  segmentSize: number;
  retry: RetryPolicy;
  progress: Progress;
  log: Logger;
  signal: AbortSignal;
}
