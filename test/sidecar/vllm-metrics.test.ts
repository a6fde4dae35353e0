/**
 * vLLM's metrics reach Prometheus through the sidecar's /metrics (vLLM listens on the pod's
 * loopback only): one scrape returns the sidecar's series and then vLLM's, and still the
 * sidecar's alone when vLLM does not answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Rig, startRig } from './harness.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const scrape = async (url: string) => {
  const res = await fetch(`${url}/metrics`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
};

describe('the sidecar’s /metrics', () => {
  it('carries vLLM’s series after its own, each family declared once', async () => {
    rig = await startRig();
    await fetch(`${rig.sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: rig.headers(),
      body: JSON.stringify({
        model: 'mistral/pixtral-12b-2409:bf16',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    const { status, type, text } = await scrape(rig.sidecar.url);
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    expect(text).toContain('sidecar_requests_total{');
    expect(text).toMatch(/^vllm:generation_tokens_total\{model_name="[^"]+"\} 8$/m);
    expect(text.indexOf('# TYPE vllm:')).toBeGreaterThan(text.indexOf('# TYPE sidecar_'));
    const families = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    expect(families.length).toBe(new Set(families).size);
  });

  it('still answers with its own series when vLLM is down', async () => {
    rig = await startRig();
    await rig.stub.close();
    const { status, text } = await scrape(rig.sidecar.url);
    expect(status).toBe(200);
    expect(text).toContain('# TYPE sidecar_requests_total counter');
    expect(text).not.toContain('vllm:');
  });
});
