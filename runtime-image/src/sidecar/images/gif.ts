/**
 * GIF header check: walks every block to the trailer, counting image descriptors (frames), so an
 * animated GIF is refused whatever its extensions say and a truncated file is caught.
 * Hand-written: `image-size` reads the screen descriptor only and counts no frames.
 */
import { corrupt, ImageRejected } from './image-error.ts';
import type { ImageInfo } from './image-info.ts';

/** True when `bytes` starts with `GIF87a` or `GIF89a`. */
export function isGif(bytes: Buffer): boolean {
  const head = bytes.toString('latin1', 0, 6);
  return head === 'GIF87a' || head === 'GIF89a';
}

/** Reads a GIF's size; throws ImageRejected on truncated, corrupt or multi-frame files. */
export function inspectGif(bytes: Buffer): ImageInfo {
  if (bytes.length < 13) throw corrupt('GIF', 'short header');
  const width = bytes.readUInt16LE(6);
  const height = bytes.readUInt16LE(8);
  if (width === 0 || height === 0) throw corrupt('GIF', 'zero width or height');
  const packed = bytes[10] as number;
  let offset = 13 + (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0);
  let frames = 0;
  const skipSubBlocks = (): void => {
    for (;;) {
      const size = bytes[offset];
      if (size === undefined) throw corrupt('GIF', 'ends inside a block');
      offset += 1 + size;
      if (size === 0) return;
    }
  };
  for (;;) {
    const block = bytes[offset];
    if (block === undefined) throw corrupt('GIF', 'ends before the trailer');
    if (block === 0x3b) break;
    if (block === 0x21) {
      offset += 2; // introducer + label
      skipSubBlocks();
    } else if (block === 0x2c) {
      if (offset + 10 > bytes.length) throw corrupt('GIF', 'short image descriptor');
      const left = bytes.readUInt16LE(offset + 1);
      const top = bytes.readUInt16LE(offset + 3);
      const w = bytes.readUInt16LE(offset + 5);
      const h = bytes.readUInt16LE(offset + 7);
      // Pillow grows the reported size when a frame exceeds the screen; refuse rather than guess.
      if (left + w > width || top + h > height) throw corrupt('GIF', 'frame outside the logical screen');
      const local = bytes[offset + 9] as number;
      offset += 10 + (local & 0x80 ? 3 * 2 ** ((local & 7) + 1) : 0) + 1; // + LZW minimum code size
      skipSubBlocks();
      frames++;
      if (frames > 1)
        throw new ImageRejected(
          'animated_image',
          'Animated GIF images are not supported: send a single frame.',
        );
    } else throw corrupt('GIF', 'unknown block');
  }
  if (frames === 0) throw corrupt('GIF', 'no image');
  return { format: 'gif', width, height };
}
