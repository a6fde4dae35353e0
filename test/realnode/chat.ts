/**
 * What the realnode tests ask a serving endpoint with the official `openai` client: a chat with
 * an image and a stream, and a chat with `n` images.
 */
import OpenAI from 'openai';
import { type Agent, fetch as undiciFetch } from 'undici';
import { expect } from 'vitest';
import { noisePng } from '../sidecar-memory/pod.ts';

/** An openai client for `baseURL`, through `agent` when given (Traefik's test CA and name lookup). */
export function openAi(baseURL: string, apiKey: string, agent?: Agent): OpenAI {
  return new OpenAI({
    apiKey,
    baseURL,
    maxRetries: 0,
    ...(agent
      ? {
          fetch: ((url: string, init: object) =>
            undiciFetch(url, { ...init, dispatcher: agent })) as unknown as typeof fetch,
        }
      : {}),
  });
}

/** A small PNG as a data URL content part. */
export const image = () => ({
  type: 'image_url' as const,
  image_url: { url: `data:image/png;base64,${noisePng(16).toString('base64')}` },
});

/** A chat with one image (200, an answer) and a streamed chat; returns the number of chunks. */
export async function chatWithImageAndStream(client: OpenAI, model: string): Promise<number> {
  const answer = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, image()] }],
  });
  expect(answer.choices[0]?.message.content).toBeTruthy();
  const stream = await client.chat.completions.create({
    model,
    stream: true,
    messages: [{ role: 'user', content: 'Count to three.' }],
  });
  let chunks = 0;
  for await (const _chunk of stream) chunks++;
  expect(chunks).toBeGreaterThan(1);
  return chunks;
}

/** A chat with `n` images. */
export const withImages = (client: OpenAI, model: string, n: number) =>
  client.chat.completions.create({
    model,
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Compare.' }, ...Array.from({ length: n }, image)] },
    ],
  });
