/**
 * API key checking against a mounted file of SHA-256 hashes, reloaded without a restart.
 *
 * Kubernetes updates a mounted Secret by writing a new timestamped folder and swapping the
 * `..data` symlink, so the key file's own inode never changes and `fs.watch` on the file misses
 * rotations (and subPath mounts never update at all, kubernetes/kubernetes#50345). We therefore
 * watch the folder and also re-read the file on a timer; a reload only swaps the key set when the
 * content changed. No library covers this Secret-specific behaviour, hence the hand-written watcher.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/** One accepted key: its id for logs and metrics, and its SHA-256 digest. */
export interface KeyEntry {
  id: string;
  digest: Buffer;
}

const HEX64 = /^[0-9a-f]{64}$/i;

/**
 * Parses a key-hash file: one hex SHA-256 per line, optionally `id:hash`; blank lines and
 * `#` comments are skipped. A line without an id gets the first 8 hex digits as its id.
 * Throws an Error naming the first bad line (never echoing its content, which may be a key).
 */
export function parseKeyHashes(text: string): Map<string, KeyEntry> {
  const keys = new Map<string, KeyEntry>();
  const lines = text.split(/\r?\n/);
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.lastIndexOf(':');
    const id = colon === -1 ? '' : line.slice(0, colon).trim();
    const hash = (colon === -1 ? line : line.slice(colon + 1)).trim().toLowerCase();
    if (!HEX64.test(hash)) {
      throw new Error(`line ${index + 1} is not a SHA-256 hex digest (64 hex digits, optionally "id:")`);
    }
    keys.set(hash, { id: id === '' ? hash.slice(0, 8) : id, digest: Buffer.from(hash, 'hex') });
  }
  return keys;
}

/** The outcome of a key check: the key's id, or null when refused (no detail on purpose). */
export type AuthResult = { keyId: string } | null;

/** Options for KeyStore. */
export interface KeyStoreOptions {
  /** The key-hash file, usually inside a mounted Secret. */
  file: string;
  /** Re-read period in ms, a backstop for missed watch events. */
  reloadIntervalMs: number;
  logger: Logger;
}

/** Accepted Authorization headers remembered at most; past it the memory starts afresh. */
const ACCEPTED_CACHE_ENTRIES = 1_024;

/** Holds the accepted key hashes and keeps them in step with the file. */
export class KeyStore {
  private keys: Map<string, KeyEntry>;
  /**
   * Authorization headers already accepted, with their result: a client sends the same header on
   * every request, and hashing it again was the key check's whole cost (bench/sidecar-proxy.ts).
   * Only accepted headers are kept, so made-up keys cannot grow it; it is bounded anyway (one key
   * may be sent with differently spelt schemes), and emptied whenever the key set changes, so a
   * removed key is refused from the reload on.
   */
  private accepted = new Map<string, AuthResult>();
  private lastText: string;
  private readonly options: KeyStoreOptions;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;

  /** Reads the file once; throws if it is missing or malformed, so a bad mount fails the start. */
  constructor(options: KeyStoreOptions) {
    this.options = options;
    this.lastText = readFileSync(options.file, 'utf8');
    try {
      this.keys = parseKeyHashes(this.lastText);
    } catch (error) {
      throw new Error(`API key hash file ${options.file}: ${(error as Error).message}`);
    }
    options.logger.info({ keys: this.keys.size }, 'Loaded API key hashes');
  }

  /** Starts watching the file's folder and the periodic re-read. */
  start(): void {
    const schedule = (): void => {
      clearTimeout(this.debounce);
      // A symlink swap fires several events; read once they settle.
      this.debounce = setTimeout(() => this.reload(), 25);
      this.debounce.unref();
    };
    try {
      this.watcher = watch(dirname(this.options.file), schedule);
      this.watcher.on('error', (error) =>
        this.options.logger.warn({ err: error }, 'Key folder watch failed'),
      );
      this.watcher.unref();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'Key folder watch failed; relying on periodic reload');
    }
    this.timer = setInterval(() => this.reload(), this.options.reloadIntervalMs);
    this.timer.unref();
  }

  /** Re-reads the file; keeps the previous keys if it is unreadable or malformed. */
  reload(): void {
    let text: string;
    try {
      text = readFileSync(this.options.file, 'utf8');
    } catch (error) {
      this.options.logger.error({ err: error }, 'Failed to read API key hashes; keeping the previous keys');
      return;
    }
    if (text === this.lastText) return;
    try {
      this.keys = parseKeyHashes(text);
      this.accepted = new Map();
      this.lastText = text;
      this.options.logger.info({ keys: this.keys.size }, 'Reloaded API key hashes');
    } catch (error) {
      this.options.logger.error(
        { reason: (error as Error).message },
        'Refused malformed API key hashes; keeping the previous keys',
      );
    }
  }

  /**
   * Checks an Authorization header value: a header accepted before is found by its text (a Map
   * lookup hashes the whole string first, so its time says nothing about stored keys); any other
   * is hashed, and the digest comparison is constant-time.
   */
  check(authorization: string | undefined): AuthResult {
    if (authorization === undefined) return null;
    const known = this.accepted.get(authorization);
    if (known !== undefined) return known;
    const result = this.verify(authorization);
    if (result !== null) {
      if (this.accepted.size >= ACCEPTED_CACHE_ENTRIES) this.accepted.clear();
      this.accepted.set(authorization, result);
    }
    return result;
  }

  private verify(authorization: string): AuthResult {
    const key = bearerToken(authorization);
    if (key === undefined) return null;
    const digest = hash('sha256', key, 'buffer');
    // The map lookup is keyed by the digest of the presented key, which tells an attacker
    // nothing about stored keys; the final comparison is constant-time anyway.
    const entry = this.keys.get(digest.toString('hex'));
    if (entry === undefined || !timingSafeEqual(entry.digest, digest)) return null;
    return { keyId: entry.id };
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
  }
}

function bearerToken(header: string): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
