/**
 * The contract between the proxy and the request checks (images, formats,
 * safe fetching, token counting). The proxy parses and validates the OpenAI body with zod, then
 * hands it to a RequestPreparer, and forwards exactly what the preparer returns.
 */
import type { Metric } from 'prom-client';
import type { FastHistogram } from './fast-metrics.ts';

/** One content part as the proxy's zod schema accepts it. */
export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } };

/** A function call the assistant made, as OpenAI writes it (`arguments` is JSON text). */
export interface ToolCall {
  id: string;
  type?: 'function';
  function: { name: string; arguments: string };
}

/** One chat message; `tool` messages answer an assistant's tool call by its id. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[] | null;
  tool_call_id?: string;
  [extra: string]: unknown;
}

/** A function the model may call (OpenAI's `tools[]` entry). */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string | null; parameters?: Record<string, unknown> | null };
}

/** The validated chat completion request (other OpenAI fields pass through untouched). */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stream?: boolean | null;
  tools?: ToolDefinition[] | null;
  [extra: string]: unknown;
}

/** What a preparer returns: the request to forward (every image a data: URL) and what it measured. */
export interface PreparedRequest {
  request: ChatCompletionRequest;
  /** Number of images in the request. */
  imageCount: number;
  /** Prompt tokens as Mistral's tokenizer counts them, when known. */
  promptTokens?: number;
}

/**
 * Checks and rewrites a request before it goes upstream. Throws an ApiError (errors.ts) to
 * refuse it. `signal` aborts when the client goes away, so fetches stop early.
 */
export interface RequestPreparer {
  /**
   * `admit` takes the memory cost, in bytes, of what the preparer brings in beyond the body
   * (fetched images) before holding it, and throws the ApiError to refuse with when the budget
   * is spent.
   */
  (
    request: ChatCompletionRequest,
    signal: AbortSignal,
    admit?: (bytes: number) => void,
  ): Promise<PreparedRequest>;
  /** The preparer's own metrics; the sidecar exports them with its own. */
  readonly metrics?: readonly (Metric | FastHistogram)[];
}
