import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('applies the defaults of PROTOCOL.md §1, treating empty as unset', () => {
    const c = loadConfig({ JWT_SECRET: 's', PORT: '', STORE: '' });
    expect(c.port).toBe(3000);
    expect(c.store).toEqual({ kind: 'mongo', url: 'mongodb://127.0.0.1:27017/messenger' });
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.role).toBe('all');
    expect(c.limits.scale).toBe(1);
    expect(Object.isFrozen(c.store)).toBe(true);
  });

  it('refuses to start without a JWT key, naming the variable', () => {
    expect(() => loadConfig({})).toThrow(/JWT_SECRET/);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['STORE', 'mysql'],
    ['ROLE', 'boss'],
    ['REDIS_URL', 'http://x'],
    ['RATE_LIMIT_SCALE', '-1'],
    ['JWT_KEYS', '{"k1": 5}'],
  ])('names the bad variable %s=%s in one line', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ JWT_SECRET: 's', [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).not.toContain('\n');
  });

  it('reads key rotation from JWT_KEYS', () => {
    const c = loadConfig({ JWT_KEYS: '{"k1":"secret-one","k2":"secret-two"}' });
    expect(c.auth.keys.map((k) => k.kid)).toEqual(['k1', 'k2']);
    expect(c.auth.keys[0]!.algorithms).toEqual(['HS256']);
  });
});
