/**
 * The code of the token-count worker thread (count-worker.ts starts it): a copy of the sidecar's
 * tokenizer that counts long texts off the event loop, one at a time, as they come.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CountReply, CountRequest } from './count-worker.ts';
import { type Pacer, Tekkenizer, type TekkenizerData } from './tekken.ts';

/** The thread has nothing else to do, so a count never stops to give a turn. */
const NEVER: Pacer = { due: () => false, pause: () => Promise.resolve() };

const port = parentPort;
if (port === null) throw new Error('count-worker-entry.ts runs as a worker thread only');
const tokenizer = Tekkenizer.fromData(workerData as TekkenizerData);

port.on('message', ({ id, text, limit }: CountRequest) => {
  Promise.resolve()
    .then(() => tokenizer.countUpTo(text, limit, NEVER))
    .then(
      (tokens) => port.postMessage({ id, tokens } satisfies CountReply),
      (error: unknown) =>
        port.postMessage({
          id,
          error: error instanceof Error ? error.message : String(error),
        } satisfies CountReply),
    );
});
