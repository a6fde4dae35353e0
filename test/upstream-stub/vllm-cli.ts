/**
 * The vLLM stand-in's command line: `vllm serve [model_tag] [options]` as vLLM parses it, then the
 * stub on `--host`/`--port` serving `--served-model-name`. The option table is vLLM's own
 * (test/vllm-flags/vllm-<version>-serve.json, dumped from vLLM's argument parser): an unknown
 * option, a missing or malformed value or a value outside the choices exits 2 with argparse's
 * message, as vLLM does. The model folder ("weights") is read at start; a missing or empty one
 * exits 1. Dev tooling, not shipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startUpstreamStub } from './stub.ts';

/** The vLLM version whose option table the stand-in enforces (the chart's pin). */
export const VLLM_VERSION = '0.33.0';

/** One option of `vllm serve`, as the dump script writes it. */
export interface VllmOption {
  options: string[];
  kind: 'flag' | 'boolean-optional' | 'value';
  type?: string;
  nargs?: string;
  choices?: string[];
}

/** The committed option table of `vllm serve` for `version`. */
export function vllmOptionTable(version = VLLM_VERSION): { vllm: string; options: VllmOption[] } {
  const path = join(import.meta.dirname, '..', 'vllm-flags', `vllm-${version}-serve.json`);
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** A command line vLLM refuses: argparse's message and exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** What the stand-in runs with once the command line is accepted. */
export interface ServeArgs {
  model: string;
  servedModelName: string;
  host: string;
  port: number;
  /** Every option given, by its canonical (first long) name, as vLLM received it. */
  values: Record<string, string | string[] | boolean>;
}

/** The converter that finally reads the value: `_optional_type(_parse_type(loads))` → `loads`. */
const innermost = (type: string): string => /([A-Za-z_<>]+)\)*$/.exec(type.replace(/\)+$/, ''))?.[1] ?? type;

const CHECKS: Record<string, (value: string) => boolean> = {
  int: (v) => /^-?\d+$/.test(v),
  float: (v) => v.trim() !== '' && !Number.isNaN(Number(v)),
  // vLLM's human-readable sizes: 131072, 128k, 1.5M, 1Gi...
  human_readable_int: (v) => /^\d+(\.\d+)?([kKmMgGtT]i?)?$/.test(v),
  human_readable_int_or_auto: (v) => v === 'auto' || v === '-1' || /^\d+(\.\d+)?([kKmMgGtT]i?)?$/.test(v),
  loads: (v) => {
    try {
      JSON.parse(v);
      return true;
    } catch {
      return false;
    }
  },
};

function checkValue(name: string, option: VllmOption, value: string): void {
  const type = option.type ?? 'str';
  // vLLM's optional_type reads "" and "None" as None before converting.
  if (type.startsWith('_optional_type(') && (value === '' || value === 'None')) return;
  const converter = innermost(type);
  const check = CHECKS[converter];
  if (check && !check(value)) {
    throw new UsageError(
      converter === 'loads'
        ? `argument ${name}: Value ${value} cannot be converted to <function loads>.`
        : `argument ${name}: invalid ${converter} value: '${value}'`,
    );
  }
  if (option.choices && !option.choices.includes(value))
    throw new UsageError(
      `argument ${name}: invalid choice: '${value}' (choose from ${option.choices.map((c) => `'${c}'`).join(', ')})`,
    );
}

/**
 * Parses `vllm <args>` the way vLLM's `serve` parser does (long options, `--name value` and
 * `--name=value`, underscores accepted for dashes, `nargs` `+`/`*`, one optional positional
 * model tag); throws UsageError on what vLLM would refuse.
 */
export function parseServeArgs(argv: string[], table = vllmOptionTable()): ServeArgs {
  if (argv[0] !== 'serve')
    throw new UsageError(`invalid choice: '${argv[0] ?? ''}' (the stand-in runs 'serve')`);
  const byName = new Map<string, VllmOption>();
  for (const option of table.options) for (const name of option.options) byName.set(name, option);
  const values: ServeArgs['values'] = {};
  let modelTag: string | undefined;
  const rest = argv.slice(1);
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i] as string;
    if (!token.startsWith('-')) {
      if (modelTag !== undefined) throw new UsageError(`unrecognized arguments: ${token}`);
      modelTag = token;
      continue;
    }
    const [rawName, inline] = token.includes('=')
      ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)]
      : [token, undefined];
    const name = rawName.startsWith('--') ? `--${rawName.slice(2).replaceAll('_', '-')}` : rawName;
    const option = byName.get(name) ?? byName.get(name.replace(/^--no-/, '--'));
    if (!option) throw new UsageError(`unrecognized arguments: ${token}`);
    const key = option.options.find((o) => o.startsWith('--')) ?? name;
    if (option.kind !== 'value') {
      if (inline !== undefined)
        throw new UsageError(`argument ${name}: ignored explicit argument '${inline}'`);
      values[key] = !name.startsWith('--no-');
      continue;
    }
    const many = option.nargs === '+' || option.nargs === '*';
    const taken: string[] = [];
    if (inline !== undefined) taken.push(inline);
    else {
      while (i + 1 < rest.length && !(rest[i + 1] as string).startsWith('--')) {
        taken.push(rest[++i] as string);
        if (!many) break;
      }
    }
    if (taken.length === 0 && option.nargs !== '*' && option.nargs !== '?')
      throw new UsageError(`argument ${name}: expected ${many ? 'at least one argument' : 'one argument'}`);
    for (const value of taken) checkValue(name, option, value);
    values[key] = many ? taken : (taken[0] ?? '');
  }
  const model = modelTag ?? (values['--model'] as string | undefined);
  if (!model) throw new UsageError('the model is required (positional model_tag or --model)');
  const served = values['--served-model-name'];
  const port = Number(values['--port'] ?? '8000');
  return {
    model,
    servedModelName:
      (Array.isArray(served) ? served[0] : typeof served === 'string' ? served : undefined) ?? model,
    host: (values['--host'] as string | undefined) ?? '0.0.0.0',
    port,
    values,
  };
}

/** Checks the semantics vLLM checks after parsing (validate_parsed_serve_args and engine start). */
export function validateServeArgs(args: ServeArgs): void {
  const mm = args.values['--limit-mm-per-prompt'];
  if (typeof mm === 'string') {
    const parsed: unknown = JSON.parse(mm);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new UsageError(`argument --limit-mm-per-prompt: expected a JSON object, got '${mm}'`);
  }
  const tp = args.values['--tensor-parallel-size'];
  if (typeof tp === 'string' && Number(tp) < 1)
    throw new UsageError(`argument --tensor-parallel-size: must be >= 1, got ${tp}`);
  if (args.values['--enable-auto-tool-choice'] === true && args.values['--tool-call-parser'] === undefined)
    throw new UsageError('When `--enable-auto-tool-choice` is set, `--tool-call-parser` must be set as well');
}

/** The model folder's files with their sizes; throws when it is missing or empty. */
export function readWeights(dir: string): { name: string; bytes: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new Error(`cannot read the model folder ${dir}: ${(error as Error).message}`);
  }
  const files = names
    .filter((name) => !name.startsWith('.'))
    .map((name) => ({ name, bytes: statSync(join(dir, name)).size }));
  if (files.length === 0) throw new Error(`the model folder ${dir} holds no files`);
  return files;
}

async function main(argv: string[]): Promise<void> {
  let args: ServeArgs;
  try {
    args = parseServeArgs(argv);
    validateServeArgs(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`usage: vllm serve [model_tag] [options]\nvllm serve: error: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
  const files = readWeights(args.model);
  const total = files.reduce((sum, f) => sum + f.bytes, 0);
  process.stdout.write(
    `INFO vLLM stand-in (vLLM ${VLLM_VERSION} command line): model ${args.model} (${files.length} files, ${total} bytes) served as ${args.servedModelName}\n`,
  );
  // STAND_IN_ANSWER: a canned answer (npm start's local mode says there that no model runs).
  const answer = process.env.STAND_IN_ANSWER;
  const stub = await startUpstreamStub({
    host: args.host,
    port: args.port,
    model: args.servedModelName,
    ...(answer ? { answer } : {}),
  });
  process.stdout.write(`INFO Started server process; listening on ${stub.url}\n`);
  const stop = (): void => {
    stub.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((error: Error) => {
    process.stderr.write(`ERROR ${error.message}\n`);
    process.exit(1);
  });
}
