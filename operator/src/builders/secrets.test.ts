import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseKeyHashes } from '../../../runtime-image/src/sidecar/auth.ts';
import { aPixtralDeployment } from '../../../test/fixtures/pixtral-deployment.ts';
import { apiKeyHashesSecret, generatedApiKeysSecret, keyHashesFile } from './secrets.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('API key Secrets', () => {
  it('stores a generated key under api-key in <name>-api-keys, owned by the deployment', () => {
    const secret = generatedApiKeysSecret(aPixtralDeployment(), 'pxd_secret');
    expect(secret.metadata!.name).toBe('vision-api-keys');
    expect(secret.metadata!.ownerReferences![0]!.controller).toBe(true);
    expect(secret.type).toBe('Opaque');
    expect(secret.data).toEqual({ 'api-key': b64('pxd_secret') });
  });

  it('hashes every key as sorted id:sha256 lines, trimming the newline of --from-file keys', () => {
    const text = keyHashesFile({ zed: b64('key-z\n'), alice: b64('key-a'), empty: b64('  ') });
    expect(text).toBe(`alice:${sha('key-a')}\nzed:${sha('key-z')}\n`);
    expect(text).not.toContain('key-a');
  });

  it('writes a file the sidecar parses', () => {
    const secret = apiKeyHashesSecret(aPixtralDeployment(), { main: b64('k1'), ci: b64('k2') });
    expect(secret.metadata!.name).toBe('vision-api-key-hashes');
    const file = Buffer.from(secret.data!.hashes!, 'base64').toString('utf8');
    const keys = parseKeyHashes(file);
    expect([...keys.values()].map((k) => k.id)).toEqual(['ci', 'main']);
    expect(keys.has(sha('k1'))).toBe(true);
  });

  it('gives an empty file (no key accepted) when the user Secret is missing or empty', () => {
    expect(keyHashesFile(undefined)).toBe('');
    expect(apiKeyHashesSecret(aPixtralDeployment(), {}).data).toEqual({ hashes: '' });
  });

  it('is deterministic whatever the order of the user data', () => {
    const a = apiKeyHashesSecret(aPixtralDeployment(), { a: b64('1'), b: b64('2') });
    const b = apiKeyHashesSecret(aPixtralDeployment(), { b: b64('2'), a: b64('1') });
    expect(a).toEqual(b);
  });
});
