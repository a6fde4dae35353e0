/**
 * Decides which network addresses the sidecar may fetch images from, and connects only to
 * addresses it has vetted. Hand-written because no well-kept npm library covers the whole job:
 * the `ip` package misclassified `127.1` and `::fFFf:127.0.0.1` (CVE-2023-42282, CVE-2024-29415),
 * and request-filtering agents check a name before connecting, not the address the socket uses.
 * Node's own `net.BlockList` holds the ranges; this file adds the IPv6 forms that embed an IPv4
 * address (mapped, NAT64, 6to4) and the connector that pins the socket to the vetted address.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { buildConnector } from 'undici';

/** Resolves a host name to every address it has (A and AAAA). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

/** The refusal raised when a target is not allowed; its message is for logs, not for clients. */
class SsrfBlockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SsrfBlockedError';
  }
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // unspecified, loopback, IPv4-compatible (deprecated)
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments: Teredo, benchmarking, ORCHID
  ['2001:db8::', 32], // documentation
  ['3fff::', 20], // documentation
  ['fc00::', 7], // unique local, includes AWS metadata fd00:ec2::254
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** Expands an IPv6 address into its 16 bytes (the forms `isIP` accepts, with an optional zone). */
function ipv6Bytes(address: string): number[] {
  let text = address.split('%')[0] ?? '';
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    tail.push(...dotted[1].split('.').map(Number));
    text = `${text.slice(0, -dotted[1].length)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => Number.parseInt(w, 16)));
  const h = words(head);
  const r = rest === undefined ? [] : words(rest);
  const all = [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const bytes = all.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** The IPv4 address an IPv6 address stands for (mapped, NAT64 well-known prefix, 6to4), if any. */
function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  const zeros = (from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12).join('.'); // ::ffff:a.b.c.d
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12))
    return b.slice(12).join('.');
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.'); // 6to4
  return undefined;
}

/** True when `address` (an IP literal) is loopback, private, link-local, metadata, multicast or reserved. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined && blocked.check(v4, 'ipv4')) return true;
  return blocked.check(address.split('%')[0] ?? '', 'ipv6');
}

/** Options of the guard. */
export interface SsrfGuardOptions {
  /**
   * `address:port` pairs (IPv6 in brackets: `[::1]:8080`) allowed even though their address is
   * blocked. Empty in production; tests use it to reach one 127.0.0.1 image server and nothing else.
   */
  allow?: readonly string[];
  /** Name resolution; defaults to the system resolver (`dns.lookup` with `all: true`). */
  resolve?: Resolver;
}

/** Vets targets and builds the connector that connects only to vetted addresses. */
export class SsrfGuard {
  readonly #allow: Set<string>;
  readonly #resolve: Resolver;

  /** A guard with the given allow-list and resolver. */
  constructor(options: SsrfGuardOptions = {}) {
    this.#allow = new Set(options.allow ?? []);
    this.#resolve = options.resolve ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
  }

  /** True when a connection to `address`:`port` is allowed. */
  allows(address: string, port: number): boolean {
    const key = isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
    return this.#allow.has(key) || !isBlockedAddress(address);
  }

  /**
   * Resolves `hostname` (an IP literal resolves to itself) and returns the address to connect to.
   * Every address the name has must be allowed, so a name with one private answer among public
   * ones is refused. Throws SsrfBlockedError.
   */
  async vet(hostname: string, port: number): Promise<string> {
    const literal = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const answers = isIP(literal) ? [{ address: literal }] : await this.#resolve(literal);
    if (answers.length === 0) throw new SsrfBlockedError(`No address for ${hostname}`);
    for (const { address } of answers) {
      if (!this.allows(address, port))
        throw new SsrfBlockedError(`Blocked address ${address} for ${hostname}`);
    }
    return (answers[0] as { address: string }).address;
  }

  /**
   * An undici `connect` function: it vets the origin's host at connect time (so DNS rebinding
   * between a check and the connection is impossible) and connects the socket to the vetted
   * address, keeping the original name for TLS SNI (and undici keeps it in the Host header).
   */
  connector(base: buildConnector.connector): buildConnector.connector {
    return (options, callback) => {
      const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
      this.vet(options.hostname, port).then(
        (address) => {
          const servername =
            options.protocol === 'https:' ? (options.servername ?? options.hostname) : undefined;
          base(
            { ...options, hostname: address, host: address, ...(servername ? { servername } : {}) },
            callback,
          );
        },
        (err: unknown) => callback(err as Error, null),
      );
    };
  }
}
