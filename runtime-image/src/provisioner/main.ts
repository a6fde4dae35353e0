/**
 * `provision-weights`: the entry point of the weights Job. Exit codes (errors.ts EXIT_CODES): 0 done
 * (or nothing to do), 1 internal error, 2 bad spec or options, 3 digest mismatch, 4 token refused,
 * 5 not found, 6 disk full, 7 network or hub failure past the retries, 143 interrupted by SIGTERM
 * (partial downloads kept for resume). The last log line says why; the termination log (when its
 * path exists) gets the same as JSON (`TerminationMessage`), which the operator reads.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { formatBytes } from './disk.ts';
import { EXIT_CODES, exitCodeOf, ProvisionError } from './errors.ts';
import { type Options, parseOptions, USAGE } from './options.ts';
import { provision } from './provision.ts';
import { loadSpec } from './spec.ts';

// Kubernetes keeps at most 4096 bytes of a termination message.
const TERMINATION_LIMIT = 4096;

async function readToken(options: Options, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (options.tokenFile === undefined) return env.HF_TOKEN === '' ? undefined : env.HF_TOKEN;
  let token: string;
  try {
    token = (await readFile(options.tokenFile, 'utf8')).trim();
  } catch (err) {
    throw new ProvisionError(
      'BadOptions',
      'terminal',
      `Cannot read the token file ${options.tokenFile}: ${(err as Error).message}`,
    );
  }
  if (token === '')
    throw new ProvisionError('BadOptions', 'terminal', `The token file ${options.tokenFile} is empty`);
  return token;
}

/**
 * What the provisioner leaves in its termination log: one JSON object, read by the operator
 * (reconcile/weights-state.ts), so no one has to parse a sentence. `code` is `Provisioned` on success.
 */
export interface TerminationMessage {
  code: string;
  retry?: 'transient' | 'terminal' | undefined;
  file?: string | undefined;
  expected?: string | undefined;
  got?: string | undefined;
  message: string;
}

async function terminationMessage(path: string, content: TerminationMessage): Promise<void> {
  if (!existsSync(path)) return;
  // Kubernetes keeps 4096 bytes: the message is shortened, never the fields a program reads.
  const room = TERMINATION_LIMIT - JSON.stringify({ ...content, message: '' }).length - 16;
  const message =
    content.message.length > room ? `${content.message.slice(0, Math.max(0, room))}...` : content.message;
  await writeFile(path, JSON.stringify({ ...content, message })).catch(() => {});
}

/** Runs the command and resolves with its exit code. Never throws. */
export async function main(argv: string[], env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  let terminationLog = env.PROVISION_TERMINATION_LOG ?? '/dev/termination-log';
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) =>
    interrupt.abort(
      new ProvisionError(
        'Interrupted',
        'terminal',
        `Interrupted by ${signal}; partial downloads are kept for the next run`,
      ),
    );
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const options = parseOptions(argv, env);
    terminationLog = options.terminationLog;
    if (options.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const spec = await loadSpec(options.spec, env);
    const token = await readToken(options, env);
    const result = await provision(spec, options, { log, signal: interrupt.signal, token });
    const message = result.noop
      ? `Weights of ${spec.model} were already provisioned; nothing to do`
      : `Provisioned ${spec.model}: ${result.files} files, ${formatBytes(result.totalBytes)}, ` +
        `${formatBytes(result.transferredBytes)} transferred in ${result.seconds.toFixed(1)} s`;
    log.info(
      {
        model: spec.model,
        noop: result.noop,
        files: result.files,
        totalBytes: result.totalBytes,
        transferredBytes: result.transferredBytes,
        seconds: Math.round(result.seconds * 10) / 10,
        rateBytesPerSecond: result.seconds > 0 ? Math.round(result.transferredBytes / result.seconds) : 0,
      },
      message,
    );
    await terminationMessage(terminationLog, { code: 'Provisioned', message });
    return EXIT_CODES.ok;
  } catch (err) {
    const known = err instanceof ProvisionError ? err : undefined;
    const message = `Provisioning failed: ${known?.message ?? (err instanceof Error ? err.message : String(err))}`;
    log.error(known === undefined ? { code: 'InternalError', err } : { code: known.code }, message);
    await terminationMessage(terminationLog, {
      code: known?.code ?? 'InternalError',
      retry: exitCodeOf(err) === EXIT_CODES.transient ? 'transient' : 'terminal',
      ...known?.detail,
      message,
    });
    return exitCodeOf(err);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

if (import.meta.main) {
  // Synchronous writes: the last line must be out before process.exit.
  const log = pino(
    {
      base: { component: 'provision-weights' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
  const code = await main(process.argv.slice(2), process.env, log);
  process.exit(code);
}
