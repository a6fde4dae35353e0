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
    [{ DISABLE_AUTH: 'true', MAX_IMAGES_PER_REQUEST: '-1' }, 'MAX_IMAGES_PER_REQUEST:'],
    [
      { DISABLE_AUTH: 'true', SIDECAR_NOAUTH_PORT: '8080' },
      'SIDECAR_NOAUTH_PORT: SIDECAR_NOAUTH_PORT must differ from SIDECAR_PORT (both are 8080)',
    ],
    [
      { DISABLE_AUTH: 'true', SIDECAR_PORT: '9000', SIDECAR_NOAUTH_PORT: '9000' },
      'SIDECAR_NOAUTH_PORT: SIDECAR_NOAUTH_PORT must differ from SIDECAR_PORT (both are 9000)',
    ],
    [{ DISABLE_AUTH: 'true', SIDECAR_NOAUTH_PORT: '65536' }, 'SIDECAR_NOAUTH_PORT:'],
    [
      { DISABLE_AUTH: 'true', SIDECAR_NOAUTH_PORT: 'http' },
      'SIDECAR_NOAUTH_PORT must be an integer, got "http"',
    ],
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

  it('accepts MAX_IMAGES_PER_REQUEST=0 for a text-only deployment', () => {
    expect(loadConfig({ DISABLE_AUTH: 'true', MAX_IMAGES_PER_REQUEST: '0' }).maxImagesPerRequest).toBe(0);
  });

  it('opens no keyless listener unless SIDECAR_NOAUTH_PORT is set', () => {
    expect(loadConfig({ DISABLE_AUTH: 'true' }).noauthPort).toBeUndefined();
    expect(loadConfig({ DISABLE_AUTH: 'true', SIDECAR_NOAUTH_PORT: '' }).noauthPort).toBeUndefined();
  });

  it('reads the operator pair SIDECAR_PORT=8080 SIDECAR_NOAUTH_PORT=8081 with keys on the main port', () => {
    const config = loadConfig({
      API_KEY_HASHES_FILE: '/keys/key-hashes',
      DISABLE_AUTH: 'false',
      SIDECAR_PORT: '8080',
      SIDECAR_NOAUTH_PORT: '8081',
    });
    expect([config.port, config.noauthPort, config.disableAuth]).toEqual([8080, 8081, false]);
  });

  it('lets both ports be 0, which the OS turns into two different free ports', () => {
    const config = loadConfig({ DISABLE_AUTH: 'true', SIDECAR_PORT: '0', SIDECAR_NOAUTH_PORT: '0' });
    expect([config.port, config.noauthPort]).toEqual([0, 0]);
  });
});
