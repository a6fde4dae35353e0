/**
 * The README's first command as a newcomer runs it: `./scripts/setup.sh && npm start` in a fresh
 * clone (the Kubernetes binaries, the npm cache and the tokenizer file come from the per-user
 * caches), on a real terminal (util-linux `script` gives it a pty, so the human output is what is
 * checked), then the Ready block's curl command and JavaScript snippet are run as printed, and
 * Ctrl-C (a ^C typed into the terminal, so the whole foreground process group gets SIGINT, as at
 * a keyboard) must leave no process, port or folder behind.
 *
 * PIXTRAL_NPM_START_IN_PLACE=1 runs `npm start` in this checkout instead of a fresh clone (faster
 * while developing; the fresh clone tests committed files only).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_IMAGE_DATA_URL } from '../../operator/src/local-ready-block.ts';
import { eventually } from '../harness/eventually.ts';
import { freePort } from '../harness/processes.ts';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
const IN_PLACE = process.env.PIXTRAL_NPM_START_IN_PLACE === '1';

/** What the terminal shows, without colours and carriage returns. */
function plain(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
}

/** The indented lines under `heading` in the Ready block, unindented. */
function section(block: string, heading: string): string {
  const lines = block.split('\n');
  const start = lines.findIndex((l) => l.includes(heading));
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('    ')) break;
    body.push(line.slice(4));
  }
  return body.join('\n');
}

/** Pids of every descendant of `pid`, from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** The program name of `pid`, for the timing line. */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return String(pid);
  }
}

/** Whether `pid` still runs: a zombie (exited, not yet reaped by init) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function imageRequest(model: string, images: number): object {
  return {
    model,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe these.' },
          ...Array.from({ length: images }, () => ({
            type: 'image_url',
            image_url: { url: SAMPLE_IMAGE_DATA_URL },
          })),
        ],
      },
    ],
  };
}

describe('npm start in a fresh clone', () => {
  let work: string;
  let clone: string;
  let terminal: ChildProcess | undefined;
  let output = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pixtral-npm-start-'));
    if (IN_PLACE) {
      clone = REPO;
    } else {
      clone = join(work, 'clone');
      await run('git', ['clone', '--quiet', REPO, clone]);
      await run('bash', ['scripts/setup.sh'], { cwd: clone, maxBuffer: 16 * 1024 * 1024 });
    }
  }, 300_000);

  afterAll(() => {
    // Only after a failure is anything left: kill it (each may exit meanwhile), then the clone.
    for (const pid of terminal?.pid ? [terminal.pid, ...descendants(terminal.pid)] : []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('serves a real chat request on 127.0.0.1, says so, and leaves nothing behind after Ctrl-C', async () => {
    const healthPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PXD_HEALTH_PORT: String(healthPort),
      TERM: 'xterm-256color',
    };
    delete env.KUBECONFIG;
    // Whichever shell the caller has must not matter (see below): take the fallback, dash.
    delete env.SHELL;
    delete env.PIXTRAL_LOCAL_CLUSTER;
    const started = Date.now();
    // `script` runs the command with $SHELL -c, /bin/sh when SHELL is unset. bash execs a lone
    // command; dash stays as npm's parent in the terminal's process group, and Ctrl-C kills it
    // with 130 while npm still drains. At a real prompt the shell is not in the foreground job
    // either: `exec` puts npm where a user's npm is, whichever shell runs it.
    terminal = spawn(
      'script',
      ['--quiet', '--flush', '--return', '--command', 'exec npm start', '/dev/null'],
      {
        cwd: clone,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    terminal.stdout?.on('data', (chunk: Buffer) => {
      output += plain(chunk.toString('utf8'));
    });
    terminal.stderr?.on('data', (chunk: Buffer) => {
      output += plain(chunk.toString('utf8'));
    });
    exited = new Promise((resolve) => terminal?.once('exit', (code) => resolve(code)));

    // The Ready block, as the terminal shows it.
    const block = await eventually(
      () => {
        const end = output.indexOf('Ctrl-C stops the operator');
        expect(end, `npm start printed:\n${output.slice(-3000)}`).toBeGreaterThan(0);
        return output.slice(output.lastIndexOf('is Ready and serving on this machine', end) - 200, end);
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    const readySeconds = (Date.now() - started) / 1000;
    const baseUrl = /Endpoint: (http:\/\/127\.0\.0\.1:(\d+)\/v1)/.exec(block)?.[1] as string;
    const port = Number(/Endpoint: http:\/\/127\.0\.0\.1:(\d+)/.exec(block)?.[1]);
    const key = /API key: +(pxd_[A-Za-z0-9_-]+)/.exec(block)?.[1] as string;
    const model = /Model: +(\S+)/.exec(block)?.[1] as string;
    expect(baseUrl).toBeTruthy();
    expect(key).toBeTruthy();
    expect(block).toContain(`curl -sS ${baseUrl}/chat/completions`);
    expect(block).toContain(`Bearer ${key}`);
    // The human lines before it: progress of the control plane, not JSON.
    expect(output).toContain('Control plane: starting kube-apiserver');
    expect(output).not.toMatch(/^\{"level"/m);
    const kubeconfig = /KUBECONFIG=(\S+)/.exec(output)?.[1];
    expect(kubeconfig, 'the kubeconfig path is printed').toBeTruthy();
    const clusterDir = dirname(kubeconfig as string);
    expect(existsSync(clusterDir)).toBe(true);

    // The printed curl, run as printed, answers 200 with the stand-in's canned answer.
    const curl = await run('bash', ['-c', `${section(block, 'Try it with curl:')} -w '\\n%{http_code}'`]);
    const [body, status] = [
      curl.stdout.slice(0, curl.stdout.lastIndexOf('\n')),
      curl.stdout.split('\n').at(-1),
    ];
    expect(status).toBe('200');
    expect(JSON.parse(body).choices[0].message.content).toContain('stand-in for vLLM');

    // The printed JavaScript, with the openai package the clone has installed.
    writeFileSync(join(clone, 'try-local.mjs'), section(block, 'JavaScript'));
    try {
      const js = await run(join(clone, 'node_modules', '.bin', 'node'), ['try-local.mjs'], { cwd: clone });
      expect(js.stdout).toContain('stand-in for vLLM');
    } finally {
      rmSync(join(clone, 'try-local.mjs'), { force: true });
    }

    // The real sidecar's limits: 13 images are one too many, and no key is no entry.
    const post = (request: object, headers: Record<string, string>) =>
      fetch(`${baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(request),
      });
    const tooMany = await post(imageRequest(model, 13), { authorization: `Bearer ${key}` });
    expect(tooMany.status).toBe(413);
    expect(((await tooMany.json()) as { error: { message: string } }).error.message).toContain('12');
    const noKey = await post(imageRequest(model, 1), {});
    expect(noKey.status).toBe(401);
    await noKey.body?.cancel();

    // The health server answers on 127.0.0.1, and on no other address of this machine.
    expect((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status).toBe(200);
    const otherAddress = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (otherAddress) expect(await listening(healthPort, otherAddress)).toBe(false);

    // Ctrl-C at the terminal.
    const processes = descendants(terminal.pid as number);
    const apiPort = Number(/"server":"https:\/\/127\.0\.0\.1:(\d+)"/.exec(output)?.[1]);
    const ports = [port, healthPort, ...(apiPort ? [apiPort] : [])];
    const interrupted = Date.now();
    const names = new Map(processes.map((pid) => [pid, `${commandOf(pid)}(${pid})`]));
    const goneAt = new Map<string, number>();
    const watcher = setInterval(() => {
      for (const [pid, name] of names)
        if (!goneAt.has(name) && !alive(pid)) goneAt.set(name, Date.now() - interrupted);
    }, 50);
    terminal.stdin?.write('\x03');
    const leftovers = async () => ({
      processes: processes.filter(alive),
      ports: (await Promise.all(ports.map(async (p) => ((await listening(p)) ? p : 0)))).filter(Boolean),
      folder: existsSync(clusterDir) ? [clusterDir] : [],
    });
    await eventually(
      async () => expect(await leftovers()).toEqual({ processes: [], ports: [], folder: [] }),
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    const goneSeconds = (Date.now() - interrupted) / 1000;
    clearInterval(watcher);
    expect(await exited).toBe(0);
    expect(output).toContain('Stopped the local sidecars, stand-ins and control plane');
    // The operator let go of its Lease while the API server still answered, before the cluster stopped.
    const afterCtrlC = output.slice(output.lastIndexOf('Received signal, shutting down'));
    expect(afterCtrlC).toContain('Released leader lease');
    expect(afterCtrlC).not.toContain('Failed to release leader lease');
    expect(afterCtrlC.indexOf('Released leader lease')).toBeLessThan(
      afterCtrlC.indexOf('Control plane: stopping'),
    );
    process.stderr.write(
      `npm start: Ready block after ${readySeconds.toFixed(1)} s; Ctrl-C to nothing left in ${goneSeconds.toFixed(1)} s (ports ${ports.join(', ')}; each process gone after, ms: ${[...goneAt].map(([n, ms]) => `${n} ${ms}`).join(', ')})\n`,
    );
  }, 600_000);
});
