/**
 * The minimal RequestPreparer: counts images and enforces maxImagesPerRequest, and forwards
 * the request unchanged. It stands in until the full preparer (formats, safe fetching, token
 * counting) replaces it in main.ts.
 */
import { tooManyImages } from './errors.ts';
import type { ChatCompletionRequest, RequestPreparer } from './prepare.ts';

/** Counts `image_url` parts across all messages (vLLM counts the whole request too). */
export function countImages(request: ChatCompletionRequest): number {
  let count = 0;
  for (const message of request.messages) {
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content) if (part.type === 'image_url') count++;
  }
  return count;
}

/** A preparer that refuses more than `maxImagesPerRequest` images with 413 and passes the rest through. */
export function basicPreparer(options: { maxImagesPerRequest: number }): RequestPreparer {
  const limit = options.maxImagesPerRequest;
  return async (request) => {
    const imageCount = countImages(request);
    if (imageCount > limit) {
      throw tooManyImages(limit, imageCount);
    }
    return { request, imageCount };
  };
}
