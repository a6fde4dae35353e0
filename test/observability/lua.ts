/**
 * Runs an Argo CD health script under a real Lua 5.1 interpreter (Debian's lua5.1, the version
 * Argo CD's embedded Lua implements), with `obj` set the way Argo CD sets it: the resource as a
 * Lua table, JSON arrays as 1-based sequences, null fields absent.
 */
import { spawnSync } from 'node:child_process';

/** A JSON value as a Lua expression. */
export function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    // Lua 5.1 knows \\, \", and decimal \ddd escapes, not JSON's \u.
    let escaped = '';
    for (const c of value) {
      const code = c.charCodeAt(0);
      if (c === '\\' || c === '"') escaped += `\\${c}`;
      else if (code < 32 || code === 127) escaped += `\\${code.toString().padStart(3, '0')}`;
      else escaped += c;
    }
    return `"${escaped}"`;
  }
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(', ')}}`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `[${luaLiteral(k)}] = ${luaLiteral(v)}`);
  return `{${fields.join(', ')}}`;
}

/** What the health script returned. */
export interface Health {
  status: string;
  message: string;
}

/** Runs `scriptPath` with `obj` and returns its `hs`; throws with Lua's error when it fails. */
export function runHealthCheck(scriptPath: string, obj: unknown): Health {
  const chunk = [
    `obj = ${luaLiteral(obj)}`,
    `local hs = dofile(${luaLiteral(scriptPath)})`,
    'io.write(tostring(hs.status), "\\n", tostring(hs.message))',
  ].join('\n');
  const run = spawnSync('lua5.1', ['-'], { input: chunk, encoding: 'utf8' });
  if (run.error) throw new Error(`lua5.1 not found: run ./scripts/setup.sh test (${run.error.message})`);
  if (run.status !== 0) throw new Error(`health check failed: ${run.stderr}`);
  const [status = '', ...message] = run.stdout.split('\n');
  return { status, message: message.join('\n') };
}
