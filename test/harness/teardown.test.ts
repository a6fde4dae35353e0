import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, startControlPlane } from './index.ts';

function processesUsing(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(dir) && !line.includes('pixtral-cp-watchdog'));
}

describe('control plane teardown', () => {
  it('stop() leaves no process and no folder behind', async () => {
    const cp = await startControlPlane({ verbose: false });
    expect(processesUsing(cp.dir).length).toBeGreaterThanOrEqual(2);
    await cp.stop();
    expect(processesUsing(cp.dir)).toEqual([]);
    expect(existsSync(cp.dir)).toBe(false);
  });

  it('a SIGKILLed test process leaves no process and no folder behind', async () => {
    const script = `
      import { startControlPlane } from ${JSON.stringify(join(import.meta.dirname, 'control-plane.ts'))};
      const cp = await startControlPlane({ verbose: false });
      process.stdout.write(cp.dir + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const dir = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    expect(processesUsing(dir).length).toBeGreaterThanOrEqual(2);
    child.kill('SIGKILL');
    await eventually(
      () => {
        expect(processesUsing(dir)).toEqual([]);
        expect(existsSync(dir)).toBe(false);
      },
      { timeoutMs: 20_000 },
    );
  });
});
