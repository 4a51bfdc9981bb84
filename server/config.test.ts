import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactUrls } from './config.js';

describe('loadConfig', () => {
  it('applies the defaults of PROTOCOL.md §1, treating empty as unset', () => {
    const c = loadConfig({ JWT_SECRET: 's', PORT: '', STORE: '' });
    expect(c.port).toBe(3000);
    expect(c.store).toEqual({ kind: 'mongo', url: 'mongodb://127.0.0.1:27017/messenger' });
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.role).toBe('all');
    expect(c.limits.scale).toBe(1);
    expect(c.messaging.receiptBatchLingerMs).toBe(20);
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
    ['RECEIPT_BATCH_LINGER_MS', '-5'],
    ['RECEIPT_BATCH_LINGER_MS', 'soon'],
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

  it('REDIS_MODE=cluster reads REDIS_URL as seed nodes and runs the sharded adapter', () => {
    const c = loadConfig({ JWT_SECRET: 's', REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:7000, redis://b:7001' });
    expect(c.redis).toMatchObject({ mode: 'cluster', nodes: ['redis://a:7000', 'redis://b:7001'], adapter: 'sharded' });
    expect(loadConfig({ JWT_SECRET: 's' }).redis).toMatchObject({ mode: 'single', adapter: 'classic' });
    // Sharded pub/sub now has an emit path for worker-only nodes too.
    expect(loadConfig({ JWT_SECRET: 's', SOCKET_ADAPTER: 'sharded', ROLE: 'worker' }).redis.adapter).toBe('sharded');
  });

  it.each([
    [{ REDIS_URL: 'redis://a:7000,redis://b:7001' }, /REDIS_URL: a list of nodes needs REDIS_MODE=cluster/],
    [{ REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:7000,http://b' }, /REDIS_URL: must be a redis: or rediss: URL/],
    [{ REDIS_MODE: 'cluster', SOCKET_ADAPTER: 'classic' }, /SOCKET_ADAPTER: must be sharded/],
    [{ REDIS_MODE: 'sharded' }, /REDIS_MODE/],
  ])('refuses a bad cluster setting %j', (env, message) => {
    expect(() => loadConfig({ JWT_SECRET: 's', ...env })).toThrow(message);
  });

  it('reads key rotation from JWT_KEYS', () => {
    const c = loadConfig({ JWT_KEYS: '{"k1":"secret-one","k2":"secret-two"}' });
    expect(c.auth.keys.map((k) => k.kid)).toEqual(['k1', 'k2']);
    expect(c.auth.keys[0]!.algorithms).toEqual(['HS256']);
  });
  describe('§2 production refusals and explicit JWT_KEYS', () => {
    const strong = 'x'.repeat(32);
    const oneLine = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).not.toContain('\n');
        return (err as Error).message;
      }
      return 'started';
    };
    it.each([
      [{ NODE_ENV: 'production', JWT_SECRET: strong, DEV_LOGIN: '1' }, /DEV_LOGIN/],
      [{ NODE_ENV: 'production', JWT_SECRET: 'dev' }, /JWT_SECRET: must be at least 32 bytes/],
      [{ NODE_ENV: 'production', JWT_KEYS: JSON.stringify({ k1: { alg: 'HS256', key: 'short' } }) }, /JWT_KEYS: HS256 key "k1"/],
      [{ NODE_ENV: 'production', JWT_KEYS: JSON.stringify({ k1: 'short-old-form' }) }, /JWT_KEYS: HS256 key "k1"/],
    ])('refuses %j in one line naming the variable', (env, message) => {
      expect(oneLine(env)).toMatch(message);
    });
    it('the same settings start outside production; a strong secret starts in production', () => {
      expect(oneLine({ JWT_SECRET: 'dev', DEV_LOGIN: '1' })).toBe('started');
      expect(oneLine({ NODE_ENV: 'production', JWT_SECRET: strong })).toBe('started');
    });
    it('JWT_KEYS takes an explicit algorithm per key; a bare base64 public key is refused, not used as a secret', () => {
      const c = loadConfig({ JWT_KEYS: JSON.stringify({ h: { alg: 'HS256', key: strong }, r: { alg: 'RS256', key: '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----' } }) });
      expect(c.auth.keys.map((k) => [k.kid, k.algorithms])).toEqual([
        ['h', ['HS256']],
        ['r', ['RS256']],
      ]);
      const bare = 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0';
      expect(oneLine({ JWT_KEYS: JSON.stringify({ k: bare }) })).toMatch(/JWT_KEYS: key "k" looks like a public key/);
      expect(oneLine({ JWT_KEYS: JSON.stringify({ k: { alg: 'RS256', key: bare } }) })).toMatch(/JWT_KEYS: key "k": RS256 needs a PEM/);
      expect(oneLine({ JWT_KEYS: JSON.stringify({ k: { alg: 'none', key: strong } }) })).toMatch(/JWT_KEYS: must be a JSON object/);
    });
  });
  it('start-up lines never print a password from a URL', () => {
    expect(redactUrls('failed to start: connect redis://ops:hunter2@10.0.0.1:6379 and rediss://:pw@h, postgres://root@db/x')).toBe(
      'failed to start: connect redis://***@10.0.0.1:6379 and rediss://***@h, postgres://***@db/x',
    );
  });
});
