/**
 * Tells an image's format from its magic bytes (never from a MIME type or a name), refuses every
 * format but PNG, JPEG, WEBP and single-frame GIF, and reads the size from the headers. Nothing
 * here decodes pixels, so the pixel cap applies before anything could.
 */
import { inspectGif, isGif } from './gif.ts';
import { ACCEPTED_FORMATS_TEXT, ImageRejected } from './image-error.ts';
import type { ImageInfo } from './image-info.ts';
import { inspectJpeg, isJpeg } from './jpeg.ts';
import { inspectPng, isPng } from './png.ts';
import { inspectWebp, isWebp } from './webp.ts';

/** Known refused formats, by magic bytes, so the message can name what was sent. */
function refusedKind(bytes: Buffer): string | undefined {
  const ascii = bytes.toString('latin1', 0, 64);
  if (ascii.startsWith('%PDF-')) return 'PDF';
  if (ascii.startsWith('8BPS')) return 'PSD';
  if (ascii.startsWith('BM')) return 'BMP';
  if (ascii.startsWith('II*\0') || ascii.startsWith('MM\0*')) return 'TIFF';
  if (ascii.startsWith('\0\0\x01\0')) return 'ICO';
  if (ascii.slice(4, 8) === 'ftyp') return 'video or HEIF/AVIF (ISO media)';
  if (ascii.startsWith('\x1a\x45\xdf\xa3')) return 'video (WebM/Matroska)';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'AVI ') return 'video (AVI)';
  if (bytes[0] === 0x47 && bytes[188] === 0x47) return 'video (MPEG-TS)';
  if (ascii.startsWith('\0\0\x01\xba') || ascii.startsWith('\0\0\x01\xb3')) return 'video (MPEG)';
  if (ascii.startsWith('FLV')) return 'video (FLV)';
  if (ascii.startsWith('OggS')) return 'Ogg media';
  if (/^(\xef\xbb\xbf)?\s*</.test(ascii)) return 'SVG/XML/HTML';
  return undefined;
}

/** Limits on one image, checked from its headers. */
export interface ImageLimits {
  /** Largest width × height accepted, in pixels. Checked before any decode. */
  maxPixels: number;
}

/**
 * Identifies an image and reads its size. Throws ImageRejected (400 material) for refused
 * formats, animation, truncated or inconsistent files, and images over `limits.maxPixels`.
 */
export function inspectImage(bytes: Buffer, limits: ImageLimits): ImageInfo {
  let info: ImageInfo;
  if (isPng(bytes)) info = inspectPng(bytes);
  else if (isJpeg(bytes)) info = inspectJpeg(bytes);
  else if (isWebp(bytes)) info = inspectWebp(bytes);
  else if (isGif(bytes)) info = inspectGif(bytes);
  else {
    const kind = refusedKind(bytes);
    throw new ImageRejected(
      'unsupported_format',
      `${kind ? `Unsupported image format (${kind}).` : 'Unrecognized image format.'} ${ACCEPTED_FORMATS_TEXT}`,
    );
  }
  if (info.width * info.height > limits.maxPixels) {
    throw new ImageRejected(
      'image_too_large',
      `The image is ${info.width}x${info.height} pixels; at most ${limits.maxPixels} pixels are accepted.`,
    );
  }
  return info;
}
