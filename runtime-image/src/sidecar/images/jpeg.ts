/**
 * JPEG header check: walks the marker segments and the entropy-coded data up to EOI, so a
 * truncated file is refused, and reads the frame size from SOF0/1/2 (baseline, extended,
 * progressive). Hand-written: `image-size` stops at the first SOF and cannot tell truncation.
 */
import { corrupt, ImageRejected } from './image-error.ts';
import type { ImageInfo } from './image-info.ts';

/** True when `bytes` starts with a JPEG SOI marker. */
export function isJpeg(bytes: Buffer): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

const SOF_ACCEPTED = new Set([0xc0, 0xc1, 0xc2]);
const SOF_OTHER = new Set([0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Reads a JPEG's size; throws ImageRejected on truncated, corrupt or lossless/arithmetic files. */
export function inspectJpeg(bytes: Buffer): ImageInfo {
  let offset = 2;
  let width = 0;
  let height = 0;
  let sawScan = false;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) throw corrupt('JPEG', 'marker expected');
    while (bytes[offset] === 0xff) offset++; // fill bytes
    const marker = bytes[offset++];
    if (marker === undefined) break;
    if (marker === 0xd9) {
      if (!sawScan || width === 0) throw corrupt('JPEG', 'no frame or scan before EOI');
      return { format: 'jpeg', width, height };
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (offset + 2 > bytes.length) break;
    const length = bytes.readUInt16BE(offset);
    if (length < 2 || offset + length > bytes.length) throw corrupt('JPEG', 'segment runs past the end');
    if (SOF_ACCEPTED.has(marker)) {
      if (width !== 0) throw corrupt('JPEG', 'two frames');
      if (length < 8) throw corrupt('JPEG', 'short SOF');
      height = bytes.readUInt16BE(offset + 3);
      width = bytes.readUInt16BE(offset + 5);
      if (width === 0 || height === 0) throw corrupt('JPEG', 'zero width or height');
    } else if (SOF_OTHER.has(marker)) {
      throw new ImageRejected(
        'unsupported_format',
        'Lossless, hierarchical and arithmetic-coded JPEG images are not supported; use baseline or progressive JPEG.',
      );
    }
    offset += length;
    if (marker === 0xda) {
      if (width === 0) throw corrupt('JPEG', 'scan before frame header');
      sawScan = true;
      // Entropy-coded data: runs until a marker that is neither a stuffed 0x00 nor a restart.
      while (offset < bytes.length) {
        if (bytes[offset] === 0xff) {
          const next = bytes[offset + 1];
          if (next === undefined) break;
          if (next !== 0x00 && next !== 0xff && !(next >= 0xd0 && next <= 0xd7)) break;
          offset += next === 0xff ? 1 : 2;
        } else offset++;
      }
    }
  }
  throw corrupt('JPEG', 'ends before EOI');
}
