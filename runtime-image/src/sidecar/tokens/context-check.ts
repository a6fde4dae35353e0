/**
 * The context-length check, refused with vLLM's own wording and error shape so a client sees the
 * same answer whether the sidecar or vLLM refuses. Wording from vLLM after PR #36197 when the
 * request names its output budget, and from the engine's `_validate_prompt_len` when it does not.
 */
import { contextLengthExceeded } from '../errors.ts';

/** The output tokens a request asks for, read as vLLM does (`max_completion_tokens or max_tokens`). */
export function requestedOutputTokens(request: {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
}): number | undefined {
  return request.max_completion_tokens || request.max_tokens || undefined;
}

/**
 * Throws vLLM's context refusal (a 400) when `promptTokens` plus the requested output do not fit
 * `maxContextLength`. Without an output budget vLLM generates up to the context end, so the
 * prompt alone must leave room for at least one token.
 */
export function checkContextLength(
  promptTokens: number,
  outputTokens: number | undefined,
  maxContextLength: number,
): void {
  const p = promptTokens;
  const l = maxContextLength;
  if (outputTokens === undefined) {
    if (p > l) {
      throw contextLengthExceeded(
        `The decoder prompt (length ${p}) is longer than the maximum model length of ${l}. Make sure that \`max_model_len\` is no smaller than the number of text tokens plus multimodal tokens. For image inputs, the number of image tokens depends on the number of images, and possibly their aspect ratios as well.`,
      );
    }
    if (p === l) {
      throw contextLengthExceeded(
        `The decoder prompt (length ${p}) plus the number of requested output tokens (at least 1) is longer than the maximum model length of ${l}. Make sure that \`max_model_len\` is no smaller than the number of text tokens (prompt + requested output tokens).`,
      );
    }
    return;
  }
  const m = outputTokens;
  if (p + m > l) {
    throw contextLengthExceeded(
      `This model's maximum context length is ${l} tokens. However, you requested ${m} output tokens and your prompt contains at least ${p} input tokens, for a total of at least ${p + m} tokens. Please reduce the length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=${p})`,
    );
  }
}
