/**
 * The OpenAI chat completion request as the sidecar accepts it, in zod. Fields vLLM reads that
 * can hurt the server (n, best_of, max_tokens, logprobs) are range-checked; unknown top-level
 * fields pass through to vLLM, which knows them (response_format, ...). Content parts
 * other than `text` and `image_url` are refused: audio, video and file parts have no place in
 * front of Pixtral and video frames have exhausted vLLM's memory before (CVE-2026-5497).
 */
import { z } from 'zod';
import { ApiError, badRequest } from './errors.ts';
import type { ChatCompletionRequest } from './prepare.ts';

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const ImageUrlPart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string().min(1),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
const ContentPart = z.discriminatedUnion('type', [TextPart, ImageUrlPart]);

// Tools follow the rules mistral-common applies to Pixtral's (v3) requests, so a request vLLM
// would refuse is refused here first, naming the field. vLLM keeps only the last 9 characters of
// a longer tool call id (`truncate_tool_call_ids`), so OpenAI-style `call_…` ids pass.
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const functionName = z
  .string()
  .regex(FUNCTION_NAME, 'Function names are 1 to 64 letters, digits, underscores or dashes.');
const toolCallId = z
  .string()
  .refine(
    (id) => /^[a-zA-Z0-9]{9}$/.test(id.slice(-9)),
    'Tool call ids must end in 9 letters or digits (vLLM keeps the last 9 characters).',
  );

const ToolCall = z.looseObject({
  id: toolCallId,
  type: z.literal('function').optional(),
  function: z.looseObject({ name: functionName, arguments: z.string() }),
});

const Tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: functionName,
    description: z.string().nullable().optional(),
    parameters: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
});

const Message = z
  .looseObject({
    role: z.enum(['system', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(ContentPart)]).nullable(),
    name: z.string().optional(),
    tool_calls: z.array(ToolCall).max(64).nullable().optional(),
    tool_call_id: toolCallId.optional(),
  })
  .superRefine((message, ctx) => {
    const hasContent =
      typeof message.content === 'string' ? message.content !== '' : (message.content?.length ?? 0) > 0;
    const hasCalls = (message.tool_calls?.length ?? 0) > 0;
    if (hasCalls && message.role !== 'assistant') {
      ctx.addIssue({
        code: 'custom',
        path: ['tool_calls'],
        message: 'Only assistant messages carry tool_calls.',
      });
    }
    if (hasCalls && hasContent) {
      ctx.addIssue({
        code: 'custom',
        path: ['content'],
        message: 'An assistant message has either content or tool_calls, not both.',
      });
    }
    if (message.role === 'tool') {
      if (message.tool_call_id === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tool_call_id'],
          message: 'A tool message needs the tool_call_id of the call it answers.',
        });
      }
      if (message.content === null) {
        ctx.addIssue({ code: 'custom', path: ['content'], message: 'A tool message needs content.' });
      }
    }
  });

const probability = z.number().min(0).max(1);
const penalty = z.number().min(-2).max(2);
const tokenCount = z.number().int().min(1).max(131_072).nullable().optional();

/** The request body schema; `.parse` output is what gets forwarded (re-serialized). */
export const ChatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z
    .array(Message)
    .min(1)
    .superRefine((messages, ctx) => {
      messages.forEach((message, i) => {
        const previous = messages[i - 1]?.role;
        if (message.role === 'tool' && previous !== 'assistant' && previous !== 'tool') {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'role'],
            message:
              'A tool message must follow the assistant message that called the tool, or another tool message.',
          });
        }
      });
    }),
  tools: z.array(Tool).max(128).nullable().optional(),
  max_tokens: tokenCount,
  max_completion_tokens: tokenCount,
  stream: z.boolean().nullable().optional(),
  stream_options: z
    .looseObject({ include_usage: z.boolean().optional(), continuous_usage_stats: z.boolean().optional() })
    .nullable()
    .optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  top_k: z.number().int().min(-1).max(1_000).nullable().optional(),
  min_p: probability.nullable().optional(),
  n: z.number().int().min(1).max(8).nullable().optional(),
  best_of: z.number().int().min(1).max(8).nullable().optional(),
  presence_penalty: penalty.nullable().optional(),
  frequency_penalty: penalty.nullable().optional(),
  repetition_penalty: z.number().gt(0).max(2).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)])
    .nullable()
    .optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  user: z.string().max(256).nullable().optional(),
});

/**
 * Validates a parsed JSON body. Returns the validated request, or throws a 400 ApiError whose
 * message names the offending field (for example `messages[0].content[1].type`).
 */
export function validateChatRequest(body: unknown): ChatCompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('invalid_body', 'The request body must be a JSON object.');
  }
  const result = ChatCompletionRequestSchema.safeParse(body);
  if (result.success) return result.data as ChatCompletionRequest;
  const issue = pickIssue(result.error.issues);
  const path = formatPath(issue.path);
  throw badRequest(
    'invalid_request',
    `${describe(issue, body)}${path === '' ? '' : ` (at ${path})`}`,
    path || null,
  );
}

/** Checks that `model` is the served name; OpenAI answers an unknown model with 404. */
export function checkModel(request: ChatCompletionRequest, served: string): void {
  if (request.model !== served) {
    throw new ApiError({
      status: 404,
      type: 'invalid_request_error',
      reason: 'model_not_found',
      code: 'model_not_found',
      param: 'model',
      message: `The model \`${request.model.slice(0, 200)}\` does not exist. This endpoint serves \`${served}\`.`,
    });
  }
}

type Issue = z.core.$ZodIssue;

// For `string | parts[]`, zod reports both branches; the useful one is the branch whose
// complaint is not just "wrong type at the top".
function pickIssue(issues: readonly Issue[]): Issue {
  const first = issues[0] as Issue;
  if (first.code !== 'invalid_union' || first.errors.length === 0) return first;
  const branches = first.errors.filter(
    (b) => !(b.length === 1 && b[0]?.code === 'invalid_type' && b[0].path.length === 0),
  );
  const branch = branches[0];
  if (branches.length !== 1 || branch === undefined || branch[0] === undefined) return first;
  const inner = pickIssue(branch);
  return { ...inner, path: [...first.path, ...inner.path] } as Issue;
}

function describe(issue: Issue, body: unknown): string {
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator === 'type') {
    const value = valueAt(body, issue.path);
    return `Content part type ${JSON.stringify(String(value)).slice(0, 64)} is not supported; use "text" or "image_url".`;
  }
  return issue.message.endsWith('.') ? issue.message : `${issue.message}.`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path)
    out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  return out;
}
