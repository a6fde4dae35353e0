/** What the header check learns about an accepted image. */

/** An accepted image format, as it goes into the forwarded `data:image/<format>` URL. */
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

/** Format and size read from the headers, without decoding pixels. */
export interface ImageInfo {
  format: ImageFormat;
  /** Width in pixels as the reference (PIL) reports it, i.e. without applying EXIF orientation. */
  width: number;
  /** Height in pixels, likewise. */
  height: number;
}
