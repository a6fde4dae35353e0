/**
 * The toy operator as a process (for the leader-election test, which SIGKILLs it):
 *   node test/runtime/toy-operator.ts --kubeconfig <path> --health-port 0 ...
 */
import { loadRuntimeConfig, Manager, runUntilSignalled } from '../../operator/src/runtime/index.ts';
import { addToyController } from './toy.ts';

const manager = new Manager({
  config: loadRuntimeConfig(),
  informer: { initialBackoffMs: 200, maxBackoffMs: 2000 },
});
addToyController(manager);
process.exitCode = await runUntilSignalled(manager);
