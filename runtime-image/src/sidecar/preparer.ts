/**
 * The full RequestPreparer (chat-request.ts): image count and placement, image fetching and format
 * checks, the rewrite of every image to a data: URL, the prompt token count and the context check,
 * in that order, so nothing is fetched or decoded for a request that is refused on its count.
 */
import type { Logger } from 'pino';
import type {
  ChatCompletionRequest,
  ChatMessage,
  ContentPart,
  PreparedRequest,
  RequestPreparer,
} from './chat-request.ts';
import { badRequest, tooManyImages } from './errors.ts';
import { createImageFetcher, FETCH_REFUSED_MESSAGE, type ImageFetcher } from './fetch-image.ts';
import { decodeDataUrl, isDataUrl } from './images/data-url.ts';
import { ImageRejected } from './images/image-error.ts';
import type { ImageInfo } from './images/image-info.ts';
import { inspectImage } from './images/inspect.ts';
import { COST_PER_FETCHED_BYTE } from './memory-budget.ts';
import { createPreparerMetrics } from './preparer-metrics.ts';
import { countChatTokens } from './tokens/chat-template.ts';
import { checkContextLength, requestedOutputTokens } from './tokens/context-check.ts';
import type { TokenCounter } from './tokens/count-worker.ts';
import { PIXTRAL_IMAGE_CONFIG, pixtralImageGrid } from './tokens/image-tokens.ts';
import { slicePacer, type Tekkenizer } from './tokens/tekken.ts';

/** Options of the full preparer. */
export interface PreparerOptions {
  /** The model's tokenizer (loadTekkenizer(WEIGHTS_DIR/tekken.json)). */
  tokenizer: Tekkenizer;
  /**
   * What counts the texts: by default the tokenizer itself, on the event loop in slices; main.ts
   * gives a CountWorker, which counts long texts on a worker thread.
   */
  counter?: TokenCounter;
  /** Images allowed per request, across all messages; one more is a 413. */
  maxImagesPerRequest: number;
  /** Prompt plus output tokens allowed (vLLM's max_model_len). */
  maxContextLength: number;
  /** Largest decoded image, in bytes, for data: URLs and fetched images alike. Default 10 MiB. */
  maxImageBytes?: number;
  /** Largest width × height, in pixels, checked from the headers. Default 50,000,000. */
  maxImagePixels?: number;
  /** Images fetched or decoded at once per request. Default 4. */
  imageConcurrency?: number;
  /** The fetcher for http(s) URLs. Default: createImageFetcher with maxImageBytes and no exceptions. */
  fetcher?: ImageFetcher;
  logger?: Logger;
}

/** An image checked from its bytes, with those bytes in canonical base64. */
interface LoadedImage {
  info: ImageInfo;
  base64: string;
}

/** The preparer plus a way to release the fetcher's connections. */
export interface Preparer extends RequestPreparer {
  close(): Promise<void>;
}

/** Builds the full preparer. */
export function createPreparer(options: PreparerOptions): Preparer {
  const maxImageBytes = options.maxImageBytes ?? 10 * 1024 * 1024;
  const maxPixels = options.maxImagePixels ?? 50_000_000;
  const concurrency = options.imageConcurrency ?? 4;
  const fetcher =
    options.fetcher ??
    createImageFetcher({ maxBytes: maxImageBytes, ...(options.logger ? { logger: options.logger } : {}) });
  const imageConfig = options.tokenizer.image ?? PIXTRAL_IMAGE_CONFIG;
  const metrics = createPreparerMetrics();
  const counter = options.counter ?? options.tokenizer;

  /** The checked image and the base64 of its bytes (a data: URL's own payload, not encoded again). */
  async function loadImage(
    url: string,
    signal: AbortSignal,
    admit: ((bytes: number) => void) | undefined,
  ): Promise<LoadedImage> {
    if (isDataUrl(url)) {
      const { bytes, base64 } = decodeDataUrl(url, maxImageBytes);
      return { info: inspectImage(bytes, { maxPixels }), base64 };
    }
    if (/^https?:/i.test(url)) {
      const bytes = await fetcher.fetch(url, signal);
      admit?.(bytes.length * COST_PER_FETCHED_BYTE);
      return { info: inspectImage(bytes, { maxPixels }), base64: bytes.toString('base64') };
    }
    options.logger?.warn(
      { scheme: url.slice(0, url.indexOf(':') + 1).slice(0, 16) },
      'Refused image URL scheme',
    );
    throw new ImageRejected('image_fetch_failed', FETCH_REFUSED_MESSAGE);
  }

  async function prepare(
    request: ChatCompletionRequest,
    signal: AbortSignal,
    admit?: (bytes: number) => void,
  ): Promise<PreparedRequest> {
    // 1. Count every image before anything is fetched or decoded, and take images only where
    // mistral-common does (the schema has already refused parts other than text and image_url).
    const images: { message: number; part: number; url: string }[] = [];
    request.messages.forEach((m, i) => {
      if (!Array.isArray(m.content)) return;
      m.content.forEach((p, j) => {
        if (p.type !== 'image_url') return;
        if (m.role !== 'user') {
          throw badRequest(
            'image_outside_user_message',
            `Images are only accepted in user messages, not in a ${m.role} message.`,
            `messages[${i}].content[${j}]`,
          );
        }
        images.push({ message: i, part: j, url: p.image_url.url });
      });
    });
    const limit = options.maxImagesPerRequest;
    if (images.length > limit) {
      throw tooManyImages(limit, images.length);
    }
    metrics.imagesPerRequest.observe(images.length);

    // 2. Fetch or decode, then check each image from its bytes. The first refusal decides the
    // answer, so it aborts the other fetches and no worker takes another image.
    const loaded = new Array<LoadedImage>(images.length);
    // Text-only requests (most) skip the controller: it only stops other images' fetches.
    const failed = images.length === 0 ? undefined : new AbortController();
    const fetchSignal = failed === undefined ? signal : AbortSignal.any([signal, failed.signal]);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < images.length && !fetchSignal.aborted) {
        const k = next++;
        const image = images[k] as (typeof images)[number];
        try {
          // A turn for the event loop between images: decoding twelve 5 MB data URLs in one go
          // would hold it for a quarter of a second.
          if (k > 0) await new Promise((resolve) => setImmediate(resolve));
          loaded[k] = await loadImage(image.url, fetchSignal, admit);
        } catch (err) {
          failed?.abort(err);
          if (err instanceof ImageRejected) {
            throw badRequest(
              err.reason,
              err.message,
              `messages[${image.message}].content[${image.part}].image_url.url`,
            );
          }
          throw err;
        }
      }
    };
    if (images.length > 0)
      await Promise.all(Array.from({ length: Math.min(concurrency, images.length) }, worker));

    // 3. Every image goes upstream as a data: URL of the bytes checked here, labelled with the
    // format found in them (text-only requests go as they are: copying them would only feed the
    // garbage collector).
    let k = 0;
    const messages: ChatMessage[] =
      images.length === 0
        ? request.messages
        : request.messages.map((m) => {
            if (!Array.isArray(m.content)) return m;
            return {
              ...m,
              content: m.content.map((p): ContentPart => {
                if (p.type !== 'image_url') return p;
                const { info, base64 } = loaded[k++] as LoadedImage;
                return {
                  ...p,
                  image_url: { ...p.image_url, url: `data:image/${info.format};base64,${base64}` },
                };
              }),
            };
          });

    // 4. and 5. Count as mistral-common does, then check the context.
    const imageTokens = loaded.map(
      ({ info }) => pixtralImageGrid(info.width, info.height, imageConfig).tokens,
    );
    // Counting stops once the prompt cannot fit (a 4 MB text is refused after ~128k tokens, not
    // counted whole), and gives the event loop a turn every few ms so /health stays answered.
    const outputTokens = requestedOutputTokens(request);
    const promptTokens = await countChatTokens(counter, messages, imageTokens, request.tools, {
      limit: options.maxContextLength - (outputTokens ?? 1),
      pacer: slicePacer(),
    });
    checkContextLength(promptTokens, outputTokens, options.maxContextLength);
    metrics.promptTokens.observe(promptTokens);
    const forwarded = images.length === 0 ? request : { ...request, messages };
    return { request: forwarded, imageCount: images.length, promptTokens };
  }

  return Object.assign(prepare, {
    metrics: [metrics.promptTokens, metrics.imagesPerRequest],
    close: () => fetcher.close(),
  });
}
