/**
 * Pixtral's image token count, ported from mistral-common 1.12 `ImageEncoder._image_to_num_tokens`.
 */
import type { ImageTokenConfig } from './tekken.ts';

/** Pixtral-12B-2409's settings, used when the tokenizer file carries none. */
export const PIXTRAL_IMAGE_CONFIG: ImageTokenConfig = { patchSize: 16, maxImageSize: 1024 };

/**
 * Python 3's `round()` on a non-negative double: halves go to the even neighbour. `Math.round`
 * rounds halves up and so miscounts e.g. 2048×1025 (512.5 → 512, not 513).
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for doubles
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The patch grid of one image after the resize rule, and the tokens it costs. */
export interface ImageGrid {
  cols: number;
  rows: number;
  /** rows × (cols + 1): each row is cols × [IMG] then [IMG_BREAK]; the last break is [IMG_END]. */
  tokens: number;
}

/**
 * Tokens for a `width`×`height` image: the longest side is scaled to fit `maxImageSize` (only when
 * larger, keeping the aspect ratio, Python rounding, a side never below 1 pixel as in 1.12), then
 * each side is padded up to whole patches. Operands are in the same order as the Python so the
 * doubles come out identical.
 */
export function pixtralImageGrid(
  width: number,
  height: number,
  config: ImageTokenConfig = PIXTRAL_IMAGE_CONFIG,
): ImageGrid {
  let w = width;
  let h = height;
  const ratio = Math.max(h / config.maxImageSize, w / config.maxImageSize);
  if (ratio > 1) {
    w = Math.max(roundHalfEven(w / ratio), 1);
    h = Math.max(roundHalfEven(h / ratio), 1);
  }
  const cols = Math.floor((w - 1) / config.patchSize) + 1;
  const rows = Math.floor((h - 1) / config.patchSize) + 1;
  return { cols, rows, tokens: rows * (cols + 1) };
}
