/**
 * The prompt token count of a chat request, laid out as mistral-common's v3 instruct tokenizer
 * does for Pixtral-12B-2409 (`InstructRequestNormalizer` then `InstructTokenizerV3`), which is what
 * vLLM runs with `--tokenizer-mode mistral`. Ported by hand: there is no JS port of mistral-common.
 *
 * Layout: `<s>`, then per user turn `[INST] content [/INST]`, per assistant turn `text </s>`.
 * All system messages are joined with "\n\n" and put at the start of the last user turn.
 */
import type { ChatMessage } from '../prepare.ts';
import type { Tekkenizer } from './tekken.ts';

/** Special token counts the layout adds (ids: `<s>`=1, `</s>`=2, `[INST]`=3, `[/INST]`=4). */
const BOS = 1;
const EOS = 1;
const INST = 2; // [INST] + [/INST]

const JOIN = '\n\n';

/** A normalized content chunk: text, or an image with its token cost already known. */
type Chunk = { kind: 'text'; text: string } | { kind: 'image'; tokens: number };

interface Turn {
  role: 'user' | 'assistant';
  /** A string when the turn has no image (mistral-common's plain-str content), else chunks. */
  content: string | Chunk[];
}

/**
 * Counts the prompt tokens of `messages`. `imageTokens` gives, in document order, the token cost of
 * each image_url part (see image-tokens.ts). A final assistant message is counted as a prefix the
 * model continues (no `</s>`), as vLLM does.
 */
export function countChatTokens(
  tokenizer: Tekkenizer,
  messages: readonly ChatMessage[],
  imageTokens: readonly number[],
): number {
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
  const contents = messages.map((m) => ({ role: m.role, content: toChunks(m.content) }));

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
  const turns: Turn[] = [];
  for (let i = 0; i < contents.length; ) {
    const role = contents[i]?.role;
    const group: (string | Chunk[] | null)[] = [];
    while (i < contents.length && contents[i]?.role === role) group.push(contents[i++]?.content ?? null);
    if (role === 'user' || role === 'assistant') turns.push({ role, content: aggregate(group) });
  }
  if (turns.length === 0 || turns[0]?.role !== 'user') turns.unshift({ role: 'user', content: '' });

  let lastUser = -1;
  turns.forEach((t, i) => {
    if (t.role === 'user') lastUser = i;
  });

  let total = BOS;
  turns.forEach((turn, i) => {
    if (turn.role === 'user') {
      total += INST + userContentTokens(tokenizer, turn.content, i === lastUser ? systemPrompt : null);
      return;
    }
    if (typeof turn.content !== 'string') throw new Error('countChatTokens: assistant message with an image');
    // mistral-common strips trailing spaces of assistant text; the last turn is a prefix.
    total += tokenizer.count(turn.content.replace(/ +$/, '')) + (i === turns.length - 1 ? 0 : EOS);
  });
  return total;
}

function userContentTokens(
  tokenizer: Tekkenizer,
  content: string | Chunk[],
  systemPrompt: string | null,
): number {
  if (typeof content === 'string') {
    // One encode call over the joined string: BPE may merge across the "\n\n".
    return tokenizer.count(systemPrompt ? systemPrompt + JOIN + content : content);
  }
  let chunks = content;
  // `_maybe_put_image_first`: [text…, image] becomes [image, text…].
  const last = chunks[chunks.length - 1];
  if (chunks.length >= 2 && last?.kind === 'image' && chunks.slice(0, -1).every((c) => c.kind === 'text')) {
    chunks = [last, ...chunks.slice(0, -1)];
  }
  let n = systemPrompt ? tokenizer.count(systemPrompt + JOIN) : 0;
  for (const c of chunks) n += c.kind === 'text' ? tokenizer.count(c.text) : c.tokens;
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
