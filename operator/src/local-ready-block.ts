/**
 * What local mode prints once a deployment serves on 127.0.0.1: the endpoint, the key, and ways
 * to call it that can be pasted as they are (curl, and the official openai client in Python and
 * JavaScript), each sending a small image. Pure text, tested directly.
 */

/** A deployment served locally, as the Ready block describes it. */
export interface LocalEndpoint {
  namespace: string;
  name: string;
  /** Base URL of the OpenAI API, e.g. `http://127.0.0.1:40123/v1`. */
  baseUrl: string;
  /** The `model` clients send. */
  model: string;
  /** An API key from the deployment's keys Secret; absent when the endpoint needs none. */
  apiKey?: string | undefined;
  /** Where the key comes from, e.g. `default/vision-api-keys`. */
  keySecret: string;
  maxImagesPerRequest: number;
  /** Where the stand-in answer comes from, for the explanation line. */
  standIn: string;
  /** A kubectl command that shows the deployments. */
  watchCommand?: string | undefined;
}

/**
 * A 16x16 PNG of four coloured squares (96 bytes), made for this block: small enough to paste,
 * and a real image, so the sidecar decodes and counts it like any other.
 */
export const SAMPLE_IMAGE_DATA_URL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAJ0lEQVR42mN4ZumGFX389Q4rYhjVQBMNrtVzsSJZ03CsaFQDTTQAALGAkRDcD9HLAAAAAElFTkSuQmCC';

const QUESTION = 'What is in this image?';

/** The chat request every example sends: one question about the sample image. */
export function sampleRequest(model: string): object {
  return {
    model,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: QUESTION },
          { type: 'image_url', image_url: { url: SAMPLE_IMAGE_DATA_URL } },
        ],
      },
    ],
  };
}

/** Single-quotes `text` for a POSIX shell. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The curl command, one line per option. */
export function curlCommand(endpoint: LocalEndpoint): string {
  return [
    `curl -sS ${endpoint.baseUrl}/chat/completions`,
    ...(endpoint.apiKey ? [`  -H ${shellQuote(`Authorization: Bearer ${endpoint.apiKey}`)}`] : []),
    `  -H 'Content-Type: application/json'`,
    `  -d ${shellQuote(JSON.stringify(sampleRequest(endpoint.model)))}`,
  ].join(' \\\n');
}

const messagesLiteral = (quote: string) =>
  `[{${quote}role${quote}: ${quote}user${quote}, ${quote}content${quote}: [` +
  `{${quote}type${quote}: ${quote}text${quote}, ${quote}text${quote}: ${quote}${QUESTION}${quote}}, ` +
  `{${quote}type${quote}: ${quote}image_url${quote}, ${quote}image_url${quote}: {${quote}url${quote}: image}}]}]`;

/** The same request with the openai Python package (`pip install openai`). */
export function pythonExample(endpoint: LocalEndpoint): string {
  return [
    'from openai import OpenAI',
    `client = OpenAI(base_url="${endpoint.baseUrl}", api_key="${endpoint.apiKey ?? 'none'}")`,
    `image = "${SAMPLE_IMAGE_DATA_URL}"`,
    'reply = client.chat.completions.create(',
    `    model="${endpoint.model}",`,
    `    messages=${messagesLiteral('"')},`,
    ')',
    'print(reply.choices[0].message.content)',
  ].join('\n');
}

/** The same request with the openai npm package (`npm install openai`), as an ES module. */
export function javascriptExample(endpoint: LocalEndpoint): string {
  return [
    "import OpenAI from 'openai';",
    `const client = new OpenAI({ baseURL: '${endpoint.baseUrl}', apiKey: '${endpoint.apiKey ?? 'none'}' });`,
    `const image = '${SAMPLE_IMAGE_DATA_URL}';`,
    'const reply = await client.chat.completions.create({',
    `  model: '${endpoint.model}',`,
    `  messages: [{ role: 'user', content: [{ type: 'text', text: '${QUESTION}' }, { type: 'image_url', image_url: { url: image } }] }],`,
    '});',
    'console.log(reply.choices[0].message.content);',
  ].join('\n');
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');

/** The whole block, ending with a newline. */
export function readyBlock(endpoint: LocalEndpoint): string {
  const title = `PixtralDeployment ${endpoint.namespace}/${endpoint.name} is Ready and serving on this machine`;
  const rule = '='.repeat(Math.min(title.length, 100));
  return [
    '',
    rule,
    title,
    rule,
    `  Endpoint: ${endpoint.baseUrl}`,
    `  API key:  ${endpoint.apiKey ?? '(none: this endpoint has disableAuth)'}   (from Secret ${endpoint.keySecret})`,
    `  Model:    ${endpoint.model}   (at most ${endpoint.maxImagesPerRequest} images per request)`,
    '',
    `  The real limits sidecar checks every request (key, images, sizes, exact token count) and`,
    `  passes it to ${endpoint.standIn}: no GPU runs here, so the answer is a canned`,
    `  sentence saying so. On a cluster with H100 nodes the same deployment runs vLLM.`,
    '',
    '  Try it with curl:',
    indent(curlCommand(endpoint)),
    '',
    '  Python (pip install openai):',
    indent(pythonExample(endpoint)),
    '',
    '  JavaScript (npm install openai; save as try.mjs, run node try.mjs):',
    indent(javascriptExample(endpoint)),
    '',
    ...(endpoint.watchCommand ? ['  Watch the deployments:', `    ${endpoint.watchCommand}`, ''] : []),
    '  Ctrl-C stops the operator, these processes and the local cluster.',
    rule,
    '',
  ].join('\n');
}
