/**
 * SSRF: every image URL that points at loopback, private, link-local, metadata or reserved
 * addresses (in any encoding, after redirects, or through DNS answers) is refused with one
 * generic 400, and a canary listening on every loopback address receives zero connections.
 * The only reachable target is the image server whose exact address:port the allow-list names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImageFetcher, FETCH_REFUSED_MESSAGE } from '../../runtime-image/src/sidecar/fetch-image.ts';
import { isBlockedAddress, SsrfGuard } from '../../runtime-image/src/sidecar/ssrf-guard.ts';
import {
  type Canary,
  dataUrl,
  forwardedImageUrls,
  type ImageServer,
  imageBody,
  type LimitsRig,
  startCanary,
  startImageServer,
  startLimitsRig,
  testResolver,
} from './rig.ts';

let rig: LimitsRig;
let canary: Canary;
let images: ImageServer;

beforeAll(async () => {
  canary = await startCanary();
  images = await startImageServer();
  rig = await startLimitsRig({
    allow: [`127.0.0.1:${images.port}`],
    resolve: testResolver({
      'images.test': ['127.0.0.1'],
      localhost: ['127.0.0.1', '::1'],
      'rebind.test': ['127.0.0.1'],
      'mixed.test': ['93.184.216.34', '127.0.0.1'],
      'mixed6.test': ['2606:2800:220:1:248:1893:25c8:1946', 'fd00:ec2::254'],
      'metadata.test': ['169.254.169.254'],
    }),
  });
});
afterAll(async () => {
  await rig.close();
  await images.close();
  await canary.close();
});

describe('SSRF guard over HTTP', () => {
  it('fetches an image from the allow-listed server and forwards it as a data: URL (positive control)', async () => {
    const res = await rig.chat(imageBody([`${images.url}/img/photo.png`]));
    expect(res.status).toBe(200);
    expect(forwardedImageUrls(rig.stub.received.at(-1)?.body)[0]).toMatch(/^data:image\/png;base64,/);
  });

  it('follows a short redirect chain on the allowed server', async () => {
    expect((await rig.chat(imageBody([`${images.url}/chain/2`]))).status).toBe(200);
  });

  const p = () => canary.port;
  it.each([
    ['loopback', () => `http://127.0.0.1:${p()}/x`],
    ['IPv6 loopback', () => `http://[::1]:${p()}/`],
    ['IPv4-mapped IPv6', () => `http://[::ffff:127.0.0.1]:${p()}/`],
    ['IPv4-mapped IPv6, hex form', () => `http://[::ffff:7f00:1]:${p()}/`],
    ['decimal integer host', () => `http://2130706433:${p()}/`],
    ['hex and short form', () => `http://0x7f.1:${p()}/`],
    ['octal host', () => `http://017700000001:${p()}/`],
    ['short form 127.1', () => `http://127.1:${p()}/`],
    ['unspecified 0.0.0.0', () => `http://0.0.0.0:${p()}/`],
    ['localhost by name', () => `http://localhost:${p()}/`],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/'],
    ['AWS IPv6 metadata', () => 'http://[fd00:ec2::254]/'],
    ['private 10/8', () => 'http://10.0.0.1/'],
    ['private 192.168/16', () => 'http://192.168.1.1/'],
    ['private 172.16/12', () => 'http://172.16.5.4/'],
    ['carrier-grade NAT (Alibaba metadata)', () => 'http://100.100.100.200/'],
    ['IPv6 link-local', () => 'http://[fe80::1]/'],
    ['multicast', () => 'http://224.0.0.1/'],
    ['NAT64 of loopback', () => `http://[64:ff9b::7f00:1]:${p()}/`],
    ['6to4 of a private address', () => 'http://[2002:a00:1::]/'],
    [
      'a redirect to loopback',
      () => `${images.url}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${p()}/`)}`,
    ],
    [
      'a redirect to a mapped address',
      () => `${images.url}/redirect?to=${encodeURIComponent(`http://[::ffff:127.0.0.1]:${p()}/`)}`,
    ],
    ['a redirect to file:', () => `${images.url}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`],
    ['a redirect chain longer than 3', () => `${images.url}/chain/4`],
    ['a name resolving to loopback (rebinding)', () => `http://rebind.test:${p()}/`],
    ['a name with one private answer among public ones', () => `http://mixed.test:${p()}/`],
    ['an IPv6 name with one metadata answer', () => 'http://mixed6.test/'],
    ['a name resolving to metadata', () => 'http://metadata.test/'],
    ['file scheme', () => 'file:///etc/passwd'],
    ['ftp scheme', () => `ftp://127.0.0.1:${p()}/`],
    ['gopher scheme', () => `gopher://127.0.0.1:${p()}/_GET`],
    ['userinfo', () => `http://user:pass@127.0.0.1:${p()}/`],
    ['userinfo to the allowed server', () => `http://trusted@127.0.0.1:${images.port}/img/photo.png`],
    ['backslash-at trick', () => `http://public.test\\@127.0.0.1:${p()}/`],
    ['backslash trick on the allowed server', () => `http://127.0.0.1:${images.port}\\@127.0.0.1:${p()}/`],
    ['an unparseable URL', () => 'http://[::1/'],
  ])('refuses %s with a generic 400, the canary untouched', async (_name, url) => {
    const before = rig.stub.received.length;
    const res = await rig.chat(imageBody([url()]));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(FETCH_REFUSED_MESSAGE);
    expect(rig.stub.received.length).toBe(before);
    expect(canary.connections).toBe(0);
  });

  it('refuses a body over the byte cap', async () => {
    expect((await rig.chat(imageBody([`${images.url}/big`]))).status).toBe(400);
  });

  it('stops fetching once one image is refused: later URLs are never requested', async () => {
    const slow = Array.from({ length: 8 }, (_, i) => `${images.url}/slow/photo.png?${i}`);
    const before = images.paths.length;
    const res = await rig.chat(imageBody([dataUrl('animated.gif'), ...slow]));
    expect(res.status).toBe(400);
    // Unfixed, three more workers would fetch all 8 in three rounds of 100 ms each.
    await new Promise((resolve) => setTimeout(resolve, 500));
    // At most the fetches started alongside the refused image (concurrency 4, minus it).
    expect(images.paths.length - before).toBeLessThanOrEqual(3);
  });

  it('logs the detail of a refusal but never tells the client', async () => {
    await rig.chat(imageBody([`http://10.1.2.3/`]));
    expect(rig.logs()).toContain('Blocked address 10.1.2.3');
  });
});

describe('without an allow-list entry', () => {
  it('makes zero connections to a 127.0.0.1 server', async () => {
    const fetcher = createImageFetcher({ guard: new SsrfGuard() });
    const before = images.connections;
    await expect(fetcher.fetch(`${images.url}/img/photo.png`, new AbortController().signal)).rejects.toThrow(
      FETCH_REFUSED_MESSAGE,
    );
    expect(images.connections).toBe(before);
    await fetcher.close();
  });
});

describe('address classification', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '0.0.0.0',
    '10.1.1.1',
    '100.64.0.1',
    '169.254.169.254',
    '172.31.255.255',
    '192.168.0.1',
    '192.0.0.170',
    '198.18.0.1',
    '224.0.0.251',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '64:ff9b::a00:1',
    '2002:7f00:1::',
    '2001::1',
    'fc00::1',
    'fd00:ec2::254',
    'fe80::1%eth0',
    'ff02::1',
    'not-an-ip',
  ])('blocks %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('allows public %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });
});
