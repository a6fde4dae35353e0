/**
 * A minimal RequestPreparer for the proxy's tests: it enforces maxImagesPerRequest and forwards
 * the request unchanged, so those tests need no tokenizer and no image files (the full preparer,
 * preparer.ts, is tested in test/sidecar-limits).
 */

import type { ChatCompletionRequest, RequestPreparer } from '../../runtime-image/src/sidecar/chat-request.ts';
import { tooManyImages } from '../../runtime-image/src/sidecar/errors.ts';

/** Counts `image_url` parts across all messages (vLLM counts the whole request too). */
function countImages(request: ChatCompletionRequest): number {
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
