/**
 * Runs the real operator (Manager + PixtralDeployment controller) against a test cluster, either
 * in this process (fast to start and stop) or as a child process of `operator/src/main.ts` (for
 * tests that SIGKILL it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { defaultOperatorConfig, type OperatorConfigInput } from '../../operator/src/config.ts';
import { addPixtralController } from '../../operator/src/controller.ts';
import { createOperatorLogger, loadRuntimeConfig, Manager } from '../../operator/src/runtime/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** An operator running in this process. */
export interface InProcessOperator {
  manager: Manager;
  stop(): Promise<void>;
}

/** Starts the operator in this process with leader election off and a free health port. */
export async function startOperator(
  kc: KubeConfig,
  config: OperatorConfigInput = {},
  runtimeArgs: string[] = [],
): Promise<InProcessOperator> {
  const manager = new Manager({
    config: loadRuntimeConfig(
      [
        '--health-port',
        '0',
        '--health-host',
        '127.0.0.1',
        '--leader-elect',
        'false',
        '--log-level',
        'warn',
        ...runtimeArgs,
      ],
      {},
    ),
    kubeConfig: kc,
    log: createOperatorLogger(process.env.E2E_LOG_LEVEL ?? 'warn'),
    informer: { initialBackoffMs: 200, maxBackoffMs: 2000 },
  });
  await addPixtralController(manager, defaultOperatorConfig(config), { workers: 4 });
  const abort = new AbortController();
  const running = manager.start(abort.signal);
  return {
    manager,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

/** Starts `operator/src/main.ts` as a child process against `kubeconfigPath`. */
export function spawnOperator(
  kubeconfigPath: string,
  configFile: string,
  config: OperatorConfigInput = {},
): ChildProcess {
  writeFileSync(configFile, JSON.stringify(config));
  return spawn(
    process.execPath,
    [
      join(ROOT, 'operator/src/main.ts'),
      '--kubeconfig',
      kubeconfigPath,
      '--health-port',
      '0',
      '--leader-elect',
      'false',
    ],
    {
      env: { ...process.env, OPERATOR_CONFIG_FILE: configFile, PXD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}
