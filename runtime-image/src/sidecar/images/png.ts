/**
 * PNG header check: walks every chunk to IEND (so truncation is caught), checks each CRC, reads
 * IHDR's size and refuses APNG with more than one frame. Hand-written: `image-size` reads IHDR only
 * and neither checks the chunk structure nor counts APNG frames.
 */
import { crc32 } from 'node:zlib';
import { corrupt, ImageRejected } from './image-error.ts';
import type { ImageInfo } from './image-info.ts';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** True when `bytes` starts with the PNG signature. */
export function isPng(bytes: Buffer): boolean {
  return bytes.length >= 8 && bytes.subarray(0, 8).equals(SIGNATURE);
}

/** Reads a PNG's size; throws ImageRejected on a truncated, corrupt or animated file. */
export function inspectPng(bytes: Buffer): ImageInfo {
  let offset = 8;
  let width = 0;
  let height = 0;
  let sawIdat = false;
  let first = true;
  for (;;) {
    if (offset + 12 > bytes.length) throw corrupt('PNG', 'ends before IEND');
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const dataEnd = offset + 8 + length;
    if (length > 0x7fffffff || dataEnd + 4 > bytes.length)
      throw corrupt('PNG', `chunk ${type} runs past the end`);
    if (crc32(bytes.subarray(offset + 4, dataEnd)) !== bytes.readUInt32BE(dataEnd))
      throw corrupt('PNG', `bad CRC in ${type}`);
    if (first && type !== 'IHDR') throw corrupt('PNG', 'first chunk is not IHDR');
    if (type === 'IHDR') {
      if (!first || length !== 13) throw corrupt('PNG', 'bad IHDR');
      width = bytes.readUInt32BE(offset + 8);
      height = bytes.readUInt32BE(offset + 12);
      if (width === 0 || height === 0) throw corrupt('PNG', 'zero width or height');
    } else if (type === 'acTL') {
      if (length < 8) throw corrupt('PNG', 'bad acTL');
      if (!sawIdat && bytes.readUInt32BE(offset + 8) > 1) {
        throw new ImageRejected(
          'animated_image',
          'Animated PNG images are not supported: send a single frame.',
        );
      }
    } else if (type === 'IDAT') sawIdat = true;
    else if (type === 'IEND') {
      if (!sawIdat) throw corrupt('PNG', 'no image data');
      return { format: 'png', width, height };
    }
    first = false;
    offset = dataEnd + 4;
  }
}
