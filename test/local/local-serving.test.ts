/**
 * Local mode's pure pieces: the sidecar environment taken from the Deployment the builders make,
 * the Ready block, and WeightsReady's honest wording.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployment } from '../../operator/src/builders/index.ts';
import { LOCAL_WEIGHTS_SOURCE } from '../../operator/src/local-mode.ts';
import { assertPortsFree, PortInUseError } from '../../operator/src/local-ports.ts';
import {
  curlCommand,
  type LocalEndpoint,
  readyBlock,
  sampleRequest,
} from '../../operator/src/local-ready-block.ts';
import { firstApiKey, localSidecarEnv, localStandInArgs } from '../../operator/src/local-serving.ts';
import { computeStatus } from '../../operator/src/reconcile/status.ts';
import { anOperatorConfig, aPixtralDeployment } from '../fixtures/pixtral-deployment.ts';
import { parseServeArgs, validateServeArgs } from '../upstream-stub/vllm-cli.ts';

const places = {
  port: 41001,
  noauthPort: 41002,
  upstreamUrl: 'http://127.0.0.1:41003',
  apiKeyHashesFile: '/tmp/x/hashes',
  weightsDir: '/repo/.cache/tekken',
};

describe('the local sidecar environment', () => {
  it("is the serving pod's sidecar env with local addresses and files", () => {
    const cr = aPixtralDeployment({ maxImagesPerRequest: 3, maxContextLength: 8192 });
    const env = localSidecarEnv(deployment({ cr, config: anOperatorConfig() }), places);
    expect(env).toMatchObject({
      MAX_IMAGES_PER_REQUEST: '3',
      MAX_CONTEXT_LENGTH: '8192',
      DISABLE_AUTH: 'false',
      SERVED_MODEL_NAME: 'mistral/pixtral-12b-2409:bf16',
      SIDECAR_HOST: '127.0.0.1',
      SIDECAR_PORT: '41001',
      UPSTREAM_URL: 'http://127.0.0.1:41003',
      API_KEY_HASHES_FILE: '/tmp/x/hashes',
      WEIGHTS_DIR: '/repo/.cache/tekken',
      SHUTDOWN_DELAY_MS: '0',
    });
    expect(env.SIDECAR_NOAUTH_PORT).toBeUndefined();
  });

  it('opens the keyless port locally when the pod does', () => {
    const cr = aPixtralDeployment({ endpoints: { public: {}, private: { disableAuth: true } } });
    const env = localSidecarEnv(deployment({ cr, config: anOperatorConfig() }), places);
    expect(env.SIDECAR_NOAUTH_PORT).toBe('41002');
  });

  it('takes the first non-empty key of the keys Secret', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(firstApiKey({ data: { a: b64('  '), b: b64('pxd_abc\n') } })).toBe('pxd_abc');
    expect(firstApiKey(undefined)).toBeUndefined();
  });
});

const endpoint: LocalEndpoint = {
  namespace: 'default',
  name: 'vision',
  baseUrl: 'http://127.0.0.1:41001/v1',
  model: 'mistral/pixtral-12b-2409:bf16',
  apiKey: 'pxd_key',
  keySecret: 'default/vision-api-keys',
  maxImagesPerRequest: 12,
  standIn: 'a stand-in for vLLM',
};

describe('the Ready block', () => {
  it('names the endpoint and the key and gives a curl command', () => {
    const block = readyBlock(endpoint);
    expect(block).toContain('default/vision is Ready');
    expect(block).toContain('Endpoint: http://127.0.0.1:41001/v1');
    expect(block).toContain('API key:  pxd_key');
    expect(block).toContain('curl -sS http://127.0.0.1:41001/v1/chat/completions');
  });

  it('gives a curl command a shell turns back into the sample request', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ready-block-'));
    try {
      // A fake curl that prints its arguments as JSON: the shell's quoting is what is tested.
      writeFileSync(
        join(dir, 'curl'),
        '#!/usr/bin/env node\nconsole.log(JSON.stringify(process.argv.slice(2)))\n',
        {
          mode: 0o755,
        },
      );
      const out = execFileSync('bash', ['-c', curlCommand(endpoint)], {
        env: { PATH: `${dir}:${process.env.PATH}` },
        encoding: 'utf8',
      });
      const args = JSON.parse(out) as string[];
      expect(args).toContain('Authorization: Bearer pxd_key');
      expect(JSON.parse(args[args.indexOf('-d') + 1]!)).toEqual(sampleRequest(endpoint.model));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has Python that parses', () => {
    const block = readyBlock(endpoint);
    const python = block
      .split('\n')
      .slice(block.split('\n').findIndex((l) => l.includes('from openai import OpenAI')))
      .filter((l) => l.startsWith('    '))
      .map((l) => l.slice(4));
    const source = python.slice(0, python.findIndex((l) => l.startsWith('print(')) + 1).join('\n');
    const result = spawnSync('python3', ['-c', 'import ast,sys; ast.parse(sys.stdin.read())'], {
      input: source,
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('says when the endpoint needs no key', () => {
    expect(readyBlock({ ...endpoint, apiKey: undefined })).toContain('(none: this endpoint has disableAuth)');
  });
});

describe('WeightsReady in local mode', () => {
  it('says no weights were downloaded instead of claiming a verified download', () => {
    const cr = aPixtralDeployment();
    const status = computeStatus(
      cr,
      {
        weights: { state: 'ready' },
        weightsIdentity: { revision: 'r', digest: 'sha256:x' },
        weightsAttempts: { attempts: 0 },
        pods: [],
        endpoints: {},
        weightsSource: LOCAL_WEIGHTS_SOURCE,
      },
      new Date('2026-12-07T00:00:00Z'),
    );
    const weights = status.conditions?.find((c) => c.type === 'WeightsReady');
    expect(weights).toMatchObject({ status: 'True', reason: 'LocalStandIn' });
    expect(weights?.message).toContain('no weights were downloaded');
    expect(weights?.message).not.toContain('SHA-256');
  });
});

describe('the port check before local mode starts', () => {
  it('names the busy port and how to pick another', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const claim = { port, host: '127.0.0.1', what: 'the health server', change: 'pass --health-port' };
      const error = await assertPortsFree([claim]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortInUseError);
      expect((error as Error).message).toContain(`Port ${port} on 127.0.0.1 (the health server)`);
      expect((error as Error).message).toContain('pass --health-port');
    } finally {
      server.close();
    }
    await expect(
      assertPortsFree([{ port, host: '127.0.0.1', what: 'x', change: 'y' }]),
    ).resolves.toBeUndefined();
  });
});

describe('the local vLLM stand-in', () => {
  it("runs the vLLM container's `vllm serve` arguments with a local model folder and port", () => {
    const cr = aPixtralDeployment({ nodeType: 'H100-2', maxContextLength: 8192 });
    const built = deployment({ cr, config: anOperatorConfig() });
    const args = localStandInArgs(built, { port: 41003, modelDir: '/repo/.cache/tekken' });
    expect(args[0]).toBe('serve');
    expect(args[1]).toBe('/repo/.cache/tekken');
    expect(args).not.toContain('/weights');
    expect(args.slice(args.indexOf('--port'), args.indexOf('--port') + 2)).toEqual(['--port', '41003']);
    expect(args.slice(args.indexOf('--host'), args.indexOf('--host') + 2)).toEqual(['--host', '127.0.0.1']);
    expect(args).toContain('--tensor-parallel-size');
    expect(args.slice(args.indexOf('--max-model-len'), args.indexOf('--max-model-len') + 2)).toEqual([
      '--max-model-len',
      '8192',
    ]);
    // The stand-in checks them against vLLM's own option table.
    expect(() => validateServeArgs(parseServeArgs(args))).not.toThrow();
  });

  it('says what to change when the vLLM command is not `vllm serve`', () => {
    const config = anOperatorConfig({
      images: { vllmCommand: ['python3', '-m', 'vllm.entrypoints.openai.api_server'] },
    });
    const built = deployment({ cr: aPixtralDeployment(), config });
    expect(() => localStandInArgs(built, { port: 1, modelDir: '/m' })).toThrow('images.vllmCommand');
  });
});
