/**
 * Images through the real sidecar and stub over HTTP: accepted kinds reach vLLM as data: URLs of
 * the checked bytes, every refused kind is a 400 naming the accepted formats and the stub sees
 * nothing, and the 13th image is a 413 before anything is decoded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dataUrl,
  forwardedImageUrls,
  image,
  imageBody,
  type LimitsRig,
  MODEL,
  startLimitsRig,
} from './rig.ts';

let rig: LimitsRig;
beforeAll(async () => {
  rig = await startLimitsRig();
});
afterAll(() => rig.close());

/** The image URLs in the last request the stub received. */
function forwardedUrls(): string[] {
  return forwardedImageUrls(rig.stub.received.at(-1)?.body);
}

describe('accepted images', () => {
  it.each([
    ['photo.png', 'png'],
    ['baseline.jpg', 'jpeg'],
    ['progressive.jpg', 'jpeg'],
    ['lossy.webp', 'webp'],
    ['lossless.webp', 'webp'],
    ['extended.webp', 'webp'],
    ['still.gif', 'gif'],
    ['one-pixel.png', 'png'],
    ['tall-1x4096.png', 'png'],
  ])('%s is forwarded as a data:image/%s URL of the same bytes', async (name, format) => {
    const before = rig.stub.received.length;
    const res = await rig.chat(imageBody([dataUrl(name, 'image/whatever')]));
    expect(res.status).toBe(200);
    expect(rig.stub.received.length).toBe(before + 1);
    expect(forwardedUrls()).toEqual([`data:image/${format};base64,${image(name).toString('base64')}`]);
  });

  it('tells the format from the bytes, not the label: a PNG labelled image/jpeg goes upstream as PNG', async () => {
    const res = await rig.chat(imageBody([dataUrl('photo.png', 'image/jpeg')]));
    expect(res.status).toBe(200);
    expect(forwardedUrls()[0]?.startsWith('data:image/png;base64,')).toBe(true);
  });

  it('forwards the canonical base64 of the checked bytes when the payload sets unused low bits', async () => {
    const canonical = image('baseline.jpg').toString('base64');
    const padding = canonical.search(/=+$/);
    expect(padding).toBeGreaterThan(0); // the test needs an image whose base64 is padded
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(canonical[padding - 1] as string);
    const loose = `${canonical.slice(0, padding - 1)}${alphabet[last | 1]}${canonical.slice(padding)}`;
    expect(Buffer.from(loose, 'base64')).toEqual(image('baseline.jpg'));
    const res = await rig.chat(imageBody([`data:image/jpeg;base64,${loose}`]));
    expect(res.status).toBe(200);
    expect(forwardedUrls()).toEqual([`data:image/jpeg;base64,${canonical}`]);
  });

  it('accepts 12 images, and every one reaches the stub as a data: URL', async () => {
    const res = await rig.chat(imageBody(Array.from({ length: 12 }, () => dataUrl('one-pixel.png'))));
    expect(res.status).toBe(200);
    const urls = forwardedUrls();
    expect(urls).toHaveLength(12);
    for (const url of urls) expect(url.startsWith('data:image/')).toBe(true);
  });
});

describe('refused images', () => {
  it.each([
    ['animated.gif', 'Animated GIF'],
    ['animated.webp', 'Animated WEBP'],
    ['animated.png', 'Animated PNG'],
    ['image.svg', 'Accepted image formats'],
    ['image.pdf', 'Accepted image formats'],
    ['image.psd', 'Accepted image formats'],
    ['image.bmp', 'Accepted image formats'],
    ['image.tiff', 'Accepted image formats'],
    ['image.ico', 'Accepted image formats'],
    ['video.mp4', 'Accepted image formats'],
    ['video.webm', 'Accepted image formats'],
    ['text.txt', 'Accepted image formats'],
    ['truncated.png', 'truncated or invalid'],
    ['truncated.jpg', 'truncated or invalid'],
    ['truncated.gif', 'truncated or invalid'],
    ['truncated.webp', 'truncated or invalid'],
    ['huge-header.png', '100000x100000'],
  ])('%s gets 400 (%s) and the stub sees nothing', async (name, words) => {
    const before = rig.stub.received.length;
    const res = await rig.chat(imageBody([dataUrl('photo.png'), dataUrl(name)]));
    expect(res.status).toBe(400);
    expect(res.body.error.type).toBe('invalid_request_error');
    expect(res.body.error.message).toContain(words);
    expect(res.body.error.param).toBe('messages[0].content[2].image_url.url');
    expect(rig.stub.received.length).toBe(before);
  });

  it('refuses the 13th image with 413 naming the limit, and the stub sees nothing', async () => {
    const before = rig.stub.received.length;
    const res = await rig.chat(imageBody(Array.from({ length: 13 }, () => dataUrl('photo.png'))));
    expect(res.status).toBe(413);
    expect(res.body.error.message).toContain('At most 12 image(s)');
    expect(rig.stub.received.length).toBe(before);
  });

  it('counts images across all messages and refuses 13 before decoding any (even broken ones)', async () => {
    const user = (n: number) => ({
      role: 'user',
      content: Array.from({ length: n }, () => ({
        type: 'image_url',
        image_url: { url: 'data:image/png;base64,AAAA' },
      })),
    });
    const res = await rig.chat({
      model: MODEL,
      messages: [user(7), { role: 'assistant', content: 'ok' }, user(6)],
    });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toContain('this request has 13');
  });

  it('refuses a data: URL that is not base64, and one over the per-image byte cap', async () => {
    expect((await rig.chat(imageBody(['data:image/png,rawbytes']))).status).toBe(400);
    const big = `data:image/png;base64,${Buffer.alloc(1024 * 1024 + 3).toString('base64')}`;
    const res = await rig.chat(imageBody([big]));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('larger than');
  });

  it('refuses images outside user messages, as mistral-common does', async () => {
    const res = await rig.chat({
      model: MODEL,
      messages: [
        { role: 'system', content: [{ type: 'image_url', image_url: { url: dataUrl('photo.png') } }] },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('only accepted in user messages');
  });

  it('refuses content parts other than text and image_url', async () => {
    const res = await rig.chat({
      model: MODEL,
      messages: [
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('messages[0].content[0].type');
  });

  it('exports refusal reasons and prompt token counts as metrics', async () => {
    const text = await (await fetch(`${rig.sidecar.url}/metrics`)).text();
    expect(text).toMatch(/sidecar_refusals_total\{reason="animated_image"\} [1-9]/);
    expect(text).toMatch(/sidecar_refusals_total\{reason="too_many_images"\} [1-9]/);
    expect(text).toMatch(/sidecar_prompt_tokens_count [1-9]/);
  });
});
