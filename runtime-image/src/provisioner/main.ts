/**
 * `provision-weights`: the entry point of the weights Job. Exit codes: 0 done (or nothing to do),
 * 1 failed, 2 bad spec or options, 143 interrupted by SIGTERM (partial downloads kept for resume).
 * The last log line says why; the same sentence goes to the termination log (when its path exists)
 * so `kubectl describe pod` shows it.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { formatBytes } from './disk.ts';
import { ProvisionError } from './errors.ts';
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

async function terminationMessage(path: string, message: string): Promise<void> {
  if (!existsSync(path)) return;
  await writeFile(path, message.slice(0, TERMINATION_LIMIT)).catch(() => {});
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
    await terminationMessage(terminationLog, message);
    return 0;
  } catch (err) {
    const known = err instanceof ProvisionError ? err : undefined;
    const message = `Provisioning failed: ${known?.message ?? (err instanceof Error ? err.message : String(err))}`;
    log.error(known === undefined ? { code: 'InternalError', err } : { code: known.code }, message);
    await terminationMessage(terminationLog, message);
    if (known?.code === 'Interrupted') return 143;
    return known?.code === 'BadSpec' || known?.code === 'BadOptions' ? 2 : 1;
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
