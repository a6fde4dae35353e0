/**
 * WEBP header check: validates the RIFF container and every chunk against the buffer, reads the
 * size from VP8 (lossy), VP8L (lossless) or VP8X (extended) and refuses animation (the VP8X flag or
 * any ANIM/ANMF chunk). Hand-written: `image-size` neither checks the chunk sizes nor animation.
 */
import { corrupt, ImageRejected } from './image-error.ts';
import type { ImageInfo } from './image-info.ts';

/** True when `bytes` is a RIFF container of type WEBP. */
export function isWebp(bytes: Buffer): boolean {
  return (
    bytes.length >= 12 &&
    bytes.toString('latin1', 0, 4) === 'RIFF' &&
    bytes.toString('latin1', 8, 12) === 'WEBP'
  );
}

const ANIMATED = () =>
  new ImageRejected('animated_image', 'Animated WEBP images are not supported: send a single frame.');

/** Reads a WEBP's size; throws ImageRejected on truncated, corrupt or animated files. */
export function inspectWebp(bytes: Buffer): ImageInfo {
  const riffEnd = 8 + bytes.readUInt32LE(4);
  if (riffEnd > bytes.length) throw corrupt('WEBP', 'RIFF size runs past the end');
  let offset = 12;
  let canvas: { width: number; height: number } | undefined;
  let bitstream: { width: number; height: number } | undefined;
  let first = true;
  while (offset < riffEnd) {
    if (offset + 8 > riffEnd) throw corrupt('WEBP', 'short chunk header');
    const type = bytes.toString('latin1', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const data = offset + 8;
    if (data + size > riffEnd) throw corrupt('WEBP', `chunk ${type} runs past the end`);
    if (first && type !== 'VP8 ' && type !== 'VP8L' && type !== 'VP8X')
      throw corrupt('WEBP', 'no image header');
    if (type === 'VP8X') {
      if (!first || size < 10) throw corrupt('WEBP', 'bad VP8X');
      if ((bytes[data] as number) & 0x02) throw ANIMATED();
      canvas = { width: bytes.readUIntLE(data + 4, 3) + 1, height: bytes.readUIntLE(data + 7, 3) + 1 };
    } else if (type === 'ANIM' || type === 'ANMF') throw ANIMATED();
    else if (type === 'VP8 ') {
      if (bitstream) throw corrupt('WEBP', 'two bitstreams');
      if (size < 10 || (bytes[data] as number) & 1) throw corrupt('WEBP', 'VP8 data is not a key frame');
      if (bytes[data + 3] !== 0x9d || bytes[data + 4] !== 0x01 || bytes[data + 5] !== 0x2a)
        throw corrupt('WEBP', 'bad VP8 start code');
      bitstream = {
        width: bytes.readUInt16LE(data + 6) & 0x3fff,
        height: bytes.readUInt16LE(data + 8) & 0x3fff,
      };
    } else if (type === 'VP8L') {
      if (bitstream) throw corrupt('WEBP', 'two bitstreams');
      if (size < 5 || bytes[data] !== 0x2f) throw corrupt('WEBP', 'bad VP8L signature');
      const b = bytes.readUInt32LE(data + 1);
      if (b >>> 29 !== 0) throw corrupt('WEBP', 'unknown VP8L version');
      bitstream = { width: (b & 0x3fff) + 1, height: ((b >>> 14) & 0x3fff) + 1 };
    }
    first = false;
    offset = data + size + (size & 1); // chunks are padded to an even length
  }
  if (!bitstream) throw corrupt('WEBP', 'no image data');
  const size = canvas ?? bitstream;
  if (size.width === 0 || size.height === 0) throw corrupt('WEBP', 'zero width or height');
  if (canvas && (bitstream.width > canvas.width || bitstream.height > canvas.height))
    throw corrupt('WEBP', 'image larger than canvas');
  return { format: 'webp', ...size };
}
