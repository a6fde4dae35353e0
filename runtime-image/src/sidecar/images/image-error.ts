/** Why an image was refused; the preparer turns it into a 400 ApiError. */

/** Machine reasons, used for metrics and for the client message. */
export type ImageRejectReason =
  | 'unsupported_format'
  | 'animated_image'
  | 'corrupt_image'
  | 'image_too_large'
  | 'invalid_data_url'
  | 'image_fetch_failed';

/** An image that cannot be forwarded; `message` is safe to show the client. */
export class ImageRejected extends Error {
  /** Short machine reason. */
  readonly reason: ImageRejectReason;

  constructor(reason: ImageRejectReason, message: string) {
    super(message);
    this.name = 'ImageRejected';
    this.reason = reason;
  }
}

/** The accepted formats, named in every format refusal. */
export const ACCEPTED_FORMATS_TEXT = 'Accepted image formats: PNG, JPEG, WEBP and single-frame GIF.';

/** Refusal for a truncated or inconsistent file of an accepted format. */
export function corrupt(format: string, detail: string): ImageRejected {
  return new ImageRejected('corrupt_image', `The ${format} image is truncated or invalid (${detail}).`);
}
