/**
 * The OpenAI chat completion request as the sidecar accepts it, in zod. Fields vLLM reads that
 * can hurt the server (n, best_of, max_tokens, logprobs) are range-checked; top-level fields
 * outside REQUEST_FIELDS (plus the deployment's EXTRA_REQUEST_FIELDS) are refused with a 400
 * naming the field, since vLLM's own extras can change the prompt behind the sidecar's count
 * (`mm_processor_kwargs`, `chat_template`, `truncate_prompt_tokens`) or cost the engine far more
 * than a request should (`prompt_logprobs`, `guided_regex`, `priority`). Content parts
 * other than `text` and `image_url` are refused: audio, video and file parts have no place in
 * front of Pixtral and video frames have exhausted vLLM's memory before (CVE-2026-5497).
 */
import { z } from 'zod';
import type { ChatCompletionRequest } from './chat-request.ts';
import { badRequest, modelNotFound } from './errors.ts';

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

/**
 * The top-level fields forwarded to vLLM: OpenAI's chat completion fields, and vLLM's sampling
 * extras that change neither the prompt nor anything beyond this request's own output.
 */
export const REQUEST_FIELDS: readonly string[] = [
  // OpenAI
  'model',
  'messages',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'max_tokens',
  'max_completion_tokens',
  'stream',
  'stream_options',
  'temperature',
  'top_p',
  'n',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'seed',
  'stop',
  'logprobs',
  'top_logprobs',
  'response_format',
  'user',
  'metadata',
  'store',
  'service_tier',
  'prompt_cache_key',
  'safety_identifier',
  // vLLM sampling extras
  'top_k',
  'min_p',
  'repetition_penalty',
  'best_of',
  'min_tokens',
  'ignore_eos',
  'stop_token_ids',
  'skip_special_tokens',
  'spaces_between_special_tokens',
  'include_stop_str_in_output',
];

/** The allowed top-level fields: REQUEST_FIELDS plus a deployment's own (EXTRA_REQUEST_FIELDS). */
export function allowedRequestFields(extra: readonly string[] = []): ReadonlySet<string> {
  return new Set([...REQUEST_FIELDS, ...extra]);
}

const DEFAULT_FIELDS = allowedRequestFields();

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
  tool_choice: z
    .union([
      z.enum(['none', 'auto', 'required']),
      z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: functionName }) }),
    ])
    .nullable()
    .optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  logit_bias: z
    .record(z.string().regex(/^\d{1,7}$/, 'Logit bias keys are token ids.'), z.number().min(-100).max(100))
    .refine((bias) => Object.keys(bias).length <= 300, 'At most 300 logit_bias entries.')
    .nullable()
    .optional(),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullable().optional(),
  store: z.boolean().nullable().optional(),
  service_tier: z.string().max(32).nullable().optional(),
  prompt_cache_key: z.string().max(256).nullable().optional(),
  safety_identifier: z.string().max(256).nullable().optional(),
  min_tokens: z.number().int().min(0).max(131_072).nullable().optional(),
  ignore_eos: z.boolean().nullable().optional(),
  stop_token_ids: z.array(z.number().int().min(0)).max(64).nullable().optional(),
  skip_special_tokens: z.boolean().nullable().optional(),
  spaces_between_special_tokens: z.boolean().nullable().optional(),
  include_stop_str_in_output: z.boolean().nullable().optional(),
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
export function validateChatRequest(
  body: unknown,
  allowedFields: ReadonlySet<string> = DEFAULT_FIELDS,
): ChatCompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('invalid_body', 'The request body must be a JSON object.');
  }
  for (const field in body) {
    if (!allowedFields.has(field)) {
      throw badRequest(
        'unsupported_field',
        `The request field ${JSON.stringify(field.slice(0, 64))} is not supported by this server (vLLM-only fields that change the prompt or the engine's work are refused; a platform team can allow a field with the sidecar's EXTRA_REQUEST_FIELDS).`,
        field.slice(0, 64),
      );
    }
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
    throw modelNotFound(request.model, served);
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
