// The leased rate limiter against a real Redis, two limiter instances standing for two nodes.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from './errors.js';
import { createLimiter, DEFAULT_LIMITS } from './limits.js';
import { redisUrl } from './test/support/env.js';

const clients: Redis[] = [];
async function client(): Promise<Redis> {
  const redis = new Redis(redisUrl(), { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  clients.push(redis);
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  return redis;
}
afterAll(() => Promise.all(clients.map((c) => c.quit())));

/** Two nodes' limiters on one prefix, each counting its Redis round trips. */
async function twoNodes(prefix = `rl-${randomBytes(4).toString('hex')}`) {
  const nodes = [];
  for (let i = 0; i < 2; i++) {
    const redis = await client();
    const limiter = createLimiter({ redis, prefix, scale: 1 });
    const node = { limiter, roundTrips: 0, pipelines: 0 };
    // Leases go out in pipelines (several handshakes' leases in one write): count each lease.
    type Leasing = { rateLimitLease: (...args: unknown[]) => unknown };
    const pipeline = redis.pipeline.bind(redis);
    redis.pipeline = ((...args: Parameters<typeof pipeline>) => {
      const p = pipeline(...args) as ReturnType<typeof pipeline> & Leasing;
      node.pipelines++;
      const lease = p.rateLimitLease.bind(p);
      p.rateLimitLease = (...a) => (node.roundTrips++, lease(...a));
      return p;
    }) as typeof redis.pipeline;
    nodes.push(node);
  }
  return nodes;
}

async function attempt(consume: () => Promise<void>): Promise<'ok' | AppError> {
  try {
    await consume();
    return 'ok';
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

describe('leased rate limits', () => {
  let nodes: Awaited<ReturnType<typeof twoNodes>>;
  beforeAll(async () => {
    nodes = await twoNodes();
  });

  it('holds a user to the limit across two nodes (never over, at most 10 % under) with a round trip per 5 % of it', async () => {
    const { points } = DEFAULT_LIMITS.send;
    let accepted = 0;
    let refused: AppError | undefined;
    for (let i = 0; i < points * 3; i++) {
      const result = await attempt(() => nodes[i % 2]!.limiter.consume('send', 'alice'));
      if (result === 'ok') accepted++;
      else refused ??= result;
    }
    expect(accepted).toBeLessThanOrEqual(points);
    expect(accepted).toBeGreaterThanOrEqual(points * 0.9);
    expect(refused).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused!.retryAfterMs).toBeGreaterThan(0);
    expect(refused!.retryAfterMs).toBeLessThanOrEqual(DEFAULT_LIMITS.send.seconds * 1000);
    // 100 points in leases of 5, on two nodes: about 20 leases, plus one refusal per node.
    const trips = nodes[0]!.roundTrips + nodes[1]!.roundTrips;
    expect(trips).toBeLessThanOrEqual(points / 5 + 4);
  });

  it('refuses a flood locally once the window is spent: 1,000 more attempts, no round trip', async () => {
    const before = nodes[0]!.roundTrips + nodes[1]!.roundTrips;
    const results = await Promise.all(Array.from({ length: 1_000 }, (_, i) => attempt(() => nodes[i % 2]!.limiter.consume('send', 'alice'))));
    expect(results.filter((r) => r === 'ok')).toHaveLength(0);
    expect(nodes[0]!.roundTrips + nodes[1]!.roundTrips).toBe(before);
  });

  it('keeps keys and families apart, and concurrent first events of one key share one lease', async () => {
    const [node] = await twoNodes();
    const results = await Promise.all(Array.from({ length: 5 }, () => attempt(() => node!.limiter.consume('receipt', 'bob'))));
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(node!.roundTrips).toBe(1); // receipt: 200 points, leases of 10
    expect(await attempt(() => node!.limiter.consume('typing', 'bob'))).toBe('ok');
    expect(await attempt(() => node!.limiter.consume('receipt', 'carol'))).toBe('ok');
    // A second event waits for the lease the first one set off (taken after bob's typing lease), then spends from it.
    expect(await attempt(() => node!.limiter.consume('receipt', 'carol'))).toBe('ok');
    expect(node!.roundTrips).toBe(3);
  });

  it("admits the first event of a key's window without waiting for Redis; the lease behind it counts it, the next event waits for it", async () => {
    const redis = await client();
    const prefix = `rl-${randomBytes(4).toString('hex')}`;
    const limiter = createLimiter({ redis, prefix, scale: 1 });
    // Every lease pipeline is held back until the gate opens.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const pipeline = redis.pipeline.bind(redis);
    redis.pipeline = ((...args: Parameters<typeof pipeline>) => {
      const p = pipeline(...args);
      const exec = p.exec.bind(p);
      p.exec = (async (...a: Parameters<typeof exec>) => (await gate, exec(...a))) as typeof p.exec;
      return p;
    }) as typeof redis.pipeline;
    const admitted: string[] = [];
    const first = limiter.consume('send', 'erin').then(() => admitted.push('first'));
    const second = limiter.consume('send', 'erin').then(() => admitted.push('second'));
    await first;
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(admitted).toEqual(['first']);
    open();
    await second;
    expect(admitted).toEqual(['first', 'second']);
    // One lease of 5 % of the limit, holding both events: the first was counted, not given away.
    expect(await redis.get(`${prefix}:rl:send:erin`)).toBe(String(DEFAULT_LIMITS.send.points * 0.05));
  });

  it('takes the first leases of many keys at once in a few pipelines, not a round trip each (a reconnect storm)', async () => {
    const [node] = await twoNodes();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => attempt(() => node!.limiter.consume('handshake', `user:storm-${i}`))));
    expect(results.every((r) => r === 'ok')).toBe(true);
    expect(node!.roundTrips).toBe(200);
    expect(node!.pipelines).toBeLessThanOrEqual(3);
  });

  it('falls back to a per-node limit in memory when Redis is unreachable', async () => {
    // A port nothing listens on: the client never becomes ready.
    const down = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
    const limiter = createLimiter({ redis: down, prefix: 'rl-down', scale: 1 });
    const { points } = DEFAULT_LIMITS.typing;
    const results = [];
    for (let i = 0; i < points + 5; i++) results.push(await attempt(() => limiter.consume('typing', 'dave')));
    expect(results.filter((r) => r === 'ok')).toHaveLength(points);
    expect(results.at(-1)).toMatchObject({ code: 'RATE_LIMITED' });
    down.disconnect();
  });
});
