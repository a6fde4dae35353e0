import { describe, expect, it } from 'vitest';
import { CATALOG_MODEL_NAME, loadConfig } from '../../runtime-image/src/sidecar/config.ts';

describe('sidecar configuration from the environment', () => {
  it('fills every default from a minimal environment', () => {
    const config = loadConfig({ API_KEY_HASHES_FILE: '/keys/key-hashes' });
    expect(config).toMatchObject({
      port: 8080,
      upstreamUrl: 'http://127.0.0.1:8000',
      servedModelName: CATALOG_MODEL_NAME,
      maxImagesPerRequest: 12,
      maxContextLength: 131_072,
      disableAuth: false,
    });
  });

  it.each([
    [{}, 'API_KEY_HASHES_FILE: API_KEY_HASHES_FILE is required unless DISABLE_AUTH=true'],
    [{ DISABLE_AUTH: 'maybe' }, 'DISABLE_AUTH must be true or false, got "maybe"'],
    [{ DISABLE_AUTH: 'true', SIDECAR_PORT: '80a' }, 'SIDECAR_PORT must be an integer, got "80a"'],
    [{ DISABLE_AUTH: 'true', MAX_IMAGES_PER_REQUEST: '13' }, 'MAX_IMAGES_PER_REQUEST:'],
    [{ DISABLE_AUTH: 'true', UPSTREAM_URL: 'ftp://x' }, 'UPSTREAM_URL:'],
    [
      { DISABLE_AUTH: 'true', HEADERS_TIMEOUT_MS: '130000' },
      'HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS',
    ],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads booleans and numbers', () => {
    const config = loadConfig({ DISABLE_AUTH: 'TRUE', MAX_QUEUE: '0', SIDECAR_PORT: '0' });
    expect([config.disableAuth, config.maxQueue, config.port]).toEqual([true, 0, 0]);
  });
});
