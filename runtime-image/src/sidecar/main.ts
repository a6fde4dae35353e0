/**
 * The sidecar's entry point: configuration from the environment, the preparer, and signal
 * handling. SIGTERM drains (in-flight streams finish within SHUTDOWN_GRACE_MS) and exits 0.
 */
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { createPreparer } from './preparer.ts';
import { createSidecar } from './server.ts';
import { CountWorker } from './tokens/count-worker.ts';
import { loadTekkenizer } from './tokens/tekken.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  // The model's own tokenizer file: without it no count can match vLLM's, so refuse to start.
  const tekkenPath = join(config.weightsDir, 'tekken.json');
  const tokenizer = await loadTekkenizer(tekkenPath).catch((error: unknown) => {
    throw new Error(
      `cannot load the tokenizer ${tekkenPath} (set WEIGHTS_DIR): ${error instanceof Error ? error.message : String(error)}`,
    );
  });
  const preparer = createPreparer({
    tokenizer,
    counter: new CountWorker(tokenizer),
    maxImagesPerRequest: config.maxImagesPerRequest,
    maxContextLength: config.maxContextLength,
    logger,
  });
  const sidecar = await createSidecar(config, { preparer, logger });
  // Loading the tokenizer and the modules leaves the 19 MB file and scratch buffers for the
  // garbage collector, which would otherwise keep them in the RSS until much later; the pod's
  // NODE_OPTIONS expose gc for this one call at start (elsewhere it is simply skipped).
  (globalThis as { gc?: () => void }).gc?.();
  const stop = (signal: string): void => {
    logger.info({ signal }, 'Received shutdown signal');
    sidecar.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'Failed to shut down cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Sidecar failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
