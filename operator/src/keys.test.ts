import { describe, expect, it } from 'vitest';
import { API_KEY_PREFIX, generateApiKey } from './keys.ts';

describe('generateApiKey', () => {
  it('makes recognisable, URL-safe keys with 256 bits of entropy', () => {
    const key = generateApiKey();
    expect(key.startsWith(API_KEY_PREFIX)).toBe(true);
    expect(key).toMatch(/^pxd_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(4), 'base64url')).toHaveLength(32);
  });

  it('never repeats', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
  });
});
