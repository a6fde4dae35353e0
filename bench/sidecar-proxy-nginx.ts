/**
 * Starts Debian's nginx (package `nginx`) on 127.0.0.1 as a plain pass-through to the stub:
 * keep-alive upstream connections, no buffering (SSE must flow), no access log. It is the
 * baseline a well-tuned C proxy sets on this machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A running nginx started by the benchmark. */
export interface Nginx {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Writes the config into `dir` and starts nginx in the foreground on `port`. */
export async function startNginx(options: {
  dir: string;
  port: number;
  upstreamPort: number;
  /** Worker processes: a count, or `auto` (one per core). */
  workers: number | 'auto';
}): Promise<Nginx> {
  const { dir, port, upstreamPort, workers } = options;
  mkdirSync(join(dir, 'logs'), { recursive: true });
  // Worker processes run as an unprivileged user and need to reach their temp folders.
  chmodSync(dir, 0o777);
  const temp = (name: string): string => `${name}_temp_path ${join(dir, name)};`;
  const conf = `
worker_processes ${workers};
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
  upstream stub { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 64m;
    location / {
      proxy_pass http://stub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const child = spawn('nginx', ['-p', dir, '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`nginx exited with ${child.exitCode}; see ${dir}/logs/error.log`);
    try {
      await fetch(`${url}/health`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('nginx did not start within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
