/**
 * The prompt token count of a chat request, laid out as mistral-common's v3 instruct tokenizer
 * does for Pixtral-12B-2409 (`InstructRequestNormalizer` then `InstructTokenizerV3`), which is what
 * vLLM runs with `--tokenizer-mode mistral`. Ported by hand: there is no JS port of mistral-common.
 *
 * Layout: `<s>`, then per user turn `[INST] content [/INST]`, per assistant turn `text </s>`
 * or `[TOOL_CALLS] json </s>`, per tool message `[TOOL_RESULTS] json [/TOOL_RESULTS]`. All system
 * messages are joined with "\n\n" and put at the start of the last user turn, and the tool
 * definitions, `[AVAILABLE_TOOLS] json [/AVAILABLE_TOOLS]`, just before that turn's `[INST]`.
 * The JSON is Python's `json.dumps(..., ensure_ascii=False)` (python-json.ts).
 */
import type { ChatMessage, ToolCall, ToolDefinition } from '../chat-request.ts';
import type { TokenCounter } from './count-worker.ts';
import { pythonJsonDumps, pythonJsonNormalize } from './python-json.ts';
import type { Pacer } from './tekken.ts';

/** How far to count: past `limit` tokens the count stops (the prompt cannot fit any more). */
export interface CountOptions {
  /** Counting stops as soon as the total is known to be above this. Default: no limit. */
  limit?: number;
  /** Gives the event loop a turn during long counts. Default: never. */
  pacer?: Pacer;
}

const NEVER: Pacer = { due: () => false, pause: () => Promise.resolve() };

/** Special token counts the layout adds (ids: `<s>`=1, `</s>`=2, `[INST]`=3, `[/INST]`=4). */
const BOS = 1;
const EOS = 1;
const INST = 2; // [INST] + [/INST]
const AVAILABLE_TOOLS = 2; // [AVAILABLE_TOOLS] + [/AVAILABLE_TOOLS]
const TOOL_CALLS = 1; // [TOOL_CALLS]
const TOOL_RESULTS = 2; // [TOOL_RESULTS] + [/TOOL_RESULTS]

const JOIN = '\n\n';

/** A normalized content chunk: text, or an image with its token cost already known. */
type Chunk = { kind: 'text'; text: string } | { kind: 'image'; tokens: number };

type Turn =
  /** `content` is a string when the turn has no image (mistral-common's plain-str content). */
  | { role: 'user'; content: string | Chunk[] }
  | { role: 'assistant'; content: string | Chunk[]; toolCalls: readonly ToolCall[] }
  /** The JSON text of `{"content": ..., "call_id": ...}`. */
  | { role: 'tool'; json: string };

/**
 * Counts the prompt tokens of `messages`. `imageTokens` gives, in document order, the token cost of
 * each image_url part (see image-tokens.ts). A final assistant message is counted as a prefix the
 * model continues (no `</s>`), as vLLM does. The messages must have passed schema.ts (tool call
 * ids, function names, no assistant message with both content and tool calls). With
 * `options.limit`, a result above the limit is a lower bound: counting stopped there.
 */
export async function countChatTokens(
  tokenizer: TokenCounter,
  messages: readonly ChatMessage[],
  imageTokens: readonly number[],
  tools?: readonly ToolDefinition[] | null,
  options: CountOptions = {},
): Promise<number> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const pacer = options.pacer ?? NEVER;
  // The most common request, one user message of plain text and no tools, is `<s>[INST] text
  // [/INST]`: counted directly, without the general layout's arrays (they were most of the
  // count's cost for a short text).
  const only = messages.length === 1 ? messages[0] : undefined;
  if (
    only?.role === 'user' &&
    typeof only.content === 'string' &&
    (tools === undefined || tools === null || tools.length === 0)
  ) {
    return BOS + INST + (await tokenizer.countUpTo(only.content, limit - BOS - INST, pacer));
  }
  let imageIndex = 0;
  const toChunks = (content: ChatMessage['content']): string | Chunk[] | null => {
    if (content === null || typeof content === 'string') return content;
    return content.map((part): Chunk => {
      if (part.type === 'text') return { kind: 'text', text: part.text };
      const tokens = imageTokens[imageIndex++];
      if (tokens === undefined) throw new Error('countChatTokens: fewer image token counts than images');
      return { kind: 'image', tokens };
    });
  };
  const contents = messages.map((m) => ({ role: m.role, content: toChunks(m.content), message: m }));

  // System prompts: every system message, wherever it is, joined with "\n\n".
  const systemParts: string[] = [];
  for (const m of contents) {
    if (m.role !== 'system' || !m.content) continue;
    const text = aggregate([m.content]);
    if (typeof text !== 'string') throw new Error('countChatTokens: system message with an image');
    systemParts.push(text);
  }
  const systemPrompt = systemParts.length > 0 ? systemParts.join(JOIN) : null;

  // Consecutive messages of one role merge; a system message still ends a run (it is dropped
  // after grouping), so user, system, user gives two user turns, as in `_aggregate_messages`.
  // Tool messages are never merged: each is its own result block.
  const turns: Turn[] = [];
  for (let i = 0; i < contents.length; ) {
    const role = contents[i]?.role;
    const group: (typeof contents)[number][] = [];
    while (i < contents.length && contents[i]?.role === role)
      group.push(contents[i++] as (typeof contents)[number]);
    if (role === 'user') turns.push({ role, content: aggregate(group.map((m) => m.content)) });
    if (role === 'assistant') {
      const toolCalls = group.flatMap((m) => m.message.tool_calls ?? []);
      turns.push({ role, content: aggregate(group.map((m) => m.content)), toolCalls });
    }
    if (role === 'tool') {
      for (const m of group) turns.push({ role, json: toolResultJson(m.message, aggregate([m.content])) });
    }
  }
  if (turns.length === 0 || turns[0]?.role !== 'user') turns.unshift({ role: 'user', content: '' });

  let lastUser = -1;
  turns.forEach((t, i) => {
    if (t.role === 'user') lastUser = i;
  });

  let total = BOS;
  const count = (text: string): number | Promise<number> => tokenizer.countUpTo(text, limit - total, pacer);
  for (const [i, turn] of turns.entries()) {
    if (total > limit) break;
    const isLast = i === turns.length - 1;
    if (turn.role === 'user') {
      if (i === lastUser && tools && tools.length > 0) {
        total += AVAILABLE_TOOLS;
        total += await count(toolsJson(tools));
      }
      total += INST;
      total += await userContentTokens(count, turn.content, i === lastUser ? systemPrompt : null);
      continue;
    }
    if (turn.role === 'tool') {
      total += TOOL_RESULTS;
      total += await count(turn.json);
      continue;
    }
    if (turn.toolCalls.length > 0) {
      total += TOOL_CALLS + (isLast ? 0 : EOS);
      total += await count(toolCallsJson(turn.toolCalls));
      continue;
    }
    if (typeof turn.content !== 'string') throw new Error('countChatTokens: assistant message with an image');
    // mistral-common strips trailing spaces of assistant text; the last turn is a prefix.
    total += isLast ? 0 : EOS;
    total += await count(turn.content.replace(/ +$/, ''));
  }
  return total;
}

/** vLLM keeps the last 9 characters of longer tool call ids before mistral-common sees them. */
const truncateId = (id: string): string => (id.length > 9 ? id.slice(-9) : id);

/**
 * mistral-common parses tool call arguments and tool results as JSON when they are JSON (empty
 * becomes `{}`) and embeds the value, else embeds the text as a JSON string.
 */
function embeddedJson(text: string): string {
  if (text === '') return '{}';
  return pythonJsonNormalize(text) ?? JSON.stringify(text);
}

function toolCallsJson(calls: readonly ToolCall[]): string {
  const items = calls.map((call) => {
    const id = truncateId(call.id);
    const idPart = id && id !== 'null' ? `, "id": ${JSON.stringify(id)}` : '';
    return `{"name": ${JSON.stringify(call.function.name)}, "arguments": ${embeddedJson(call.function.arguments)}${idPart}}`;
  });
  return `[${items.join(', ')}]`;
}

function toolResultJson(message: ChatMessage, content: string | Chunk[]): string {
  if (typeof content !== 'string') throw new Error('countChatTokens: tool message with an image');
  const callId = truncateId(message.tool_call_id ?? '');
  return `{"content": ${embeddedJson(content)}, "call_id": ${JSON.stringify(callId)}}`;
}

/** `Tool.from_openai(...).model_dump(exclude strict)`: description "" and parameters {} when absent. */
function toolsJson(tools: readonly ToolDefinition[]): string {
  return pythonJsonDumps(
    tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.function.name,
        description: tool.function.description ?? '',
        parameters: tool.function.parameters ?? {},
      },
    })),
  );
}

async function userContentTokens(
  count: (text: string) => number | Promise<number>,
  content: string | Chunk[],
  systemPrompt: string | null,
): Promise<number> {
  if (typeof content === 'string') {
    // One encode call over the joined string: BPE may merge across the "\n\n".
    return count(systemPrompt ? systemPrompt + JOIN + content : content);
  }
  let chunks = content;
  // `_maybe_put_image_first`: [text…, image] becomes [image, text…].
  const last = chunks[chunks.length - 1];
  if (chunks.length >= 2 && last?.kind === 'image' && chunks.slice(0, -1).every((c) => c.kind === 'text')) {
    chunks = [last, ...chunks.slice(0, -1)];
  }
  let n = systemPrompt ? await count(systemPrompt + JOIN) : 0;
  for (const c of chunks) n += c.kind === 'text' ? await count(c.text) : c.tokens;
  return n;
}

/**
 * `_aggregate_content_chunks_impl`: non-empty text within and across messages is joined with
 * "\n\n" until an image comes; a message list with no image becomes one plain string.
 */
function aggregate(contents: readonly (string | Chunk[] | null)[]): string | Chunk[] {
  const out: Chunk[] = [];
  let text: string[] = [];
  const flush = (): void => {
    if (text.length > 0) out.push({ kind: 'text', text: text.join('') });
    text = [];
  };
  for (const content of contents) {
    if (!content) continue;
    if (typeof content === 'string') {
      text.push((text.length > 0 ? JOIN : '') + content);
      continue;
    }
    for (const chunk of content) {
      if (chunk.kind === 'text') {
        if (!chunk.text) continue;
        text.push((text.length === 0 ? '' : JOIN) + chunk.text);
      } else {
        flush();
        out.push(chunk);
      }
    }
  }
  if (out.length === 0) return text.join('');
  flush();
  return out;
}
