// `npm start` as an operator runs it: the compiled entry point (in CI, which builds first) or
// the source through tsx, with settings from the environment only.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayEntry, startNodeProcess } from '../../tools/spawn-node.js';
import { freshPostgresUrl, freshRedisPrefix } from './support/env.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';
import { TEST_SECRET } from './support/tokens.js';

// CI builds dist/ right before the tests; locally dist/ may be stale, so the source runs.
const entry = gatewayEntry(Boolean(process.env.CI));

/** The node with these settings and nothing else from this process's environment. */
function run(env: Record<string, string>, nodeArgs: string[] = []) {
  const p = startNodeProcess({ entry, env, inheritEnv: false, nodeArgs });
  const listening = p.listening(30_000);
  listening.catch(() => {}); // awaited only by the tests that expect it to listen
  return { proc: p.proc, exited: p.exited, listening, stderr: p.stderr, output: p.output };
}

const redises: PrivateRedis[] = [];
afterAll(async () => {
  await Promise.all(redises.map((r) => r.stop().catch(() => {})));
});

describe('the process', () => {
  it.each([
    ['PORT', 'not-a-port'],
    ['STORE', 'sqlite'],
    ['JWT_SECRET', ''],
  ])('refuses to start on a bad %s with one line naming it', async (name, value) => {
    const p = run({ JWT_SECRET: TEST_SECRET, [name]: value });
    expect(await p.exited).toBe(1);
    const lines = p.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
  });

  it('refuses to start on a Redis that may evict keys when REDIS_REQUIRE_NOEVICTION is set', async () => {
    const redis = await startPrivateRedis();
    redises.push(redis);
    const admin = new Redis(redis.url);
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await admin.quit();
    const p = run({
      JWT_SECRET: TEST_SECRET,
      STORE: 'postgres',
      DATABASE_URL: await freshPostgresUrl(),
      REDIS_URL: redis.url,
      REDIS_PREFIX: freshRedisPrefix(),
      REDIS_REQUIRE_NOEVICTION: '1',
    });
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toContain('maxmemory-policy is allkeys-lru');
  }, 30_000);

  it('serves /healthz and /readyz, turns unready naming redis when Redis stops, and exits 0 on SIGTERM', async () => {
    const redis = await startPrivateRedis();
    redises.push(redis);
    const p = run({
      PORT: '0',
      JWT_SECRET: TEST_SECRET,
      STORE: 'postgres',
      DATABASE_URL: await freshPostgresUrl(),
      REDIS_URL: redis.url,
      REDIS_PREFIX: freshRedisPrefix(),
    });
    const port = await p.listening;
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    await redis.stop();
    const until = Date.now() + 5_000;
    let res = await fetch(`${base}/readyz`);
    while (res.status !== 503 && Date.now() < until) res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ failing: ['redis'] });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    await redis.restart();
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 30_000);

  it('an uncaught exception is logged as one fatal line, the node drains, and exits 1', async () => {
    const preload = pathToFileURL(fileURLToPath(new URL('./support/throw-on-sigusr2.mjs', import.meta.url))).href;
    const p = run(
      { PORT: '0', JWT_SECRET: TEST_SECRET, STORE: 'postgres', DATABASE_URL: await freshPostgresUrl(), REDIS_PREFIX: freshRedisPrefix(), SHUTDOWN_READY_DELAY_MS: '0' },
      ['--import', preload],
    );
    await p.listening;
    p.proc.kill('SIGUSR2');
    expect(await p.exited).toBe(1);
    const lines = p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string }; reason?: string });
    const fatal = lines.filter((l) => l.msg.startsWith('uncaught exception'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ level: 60, err: { message: 'boom: thrown where nothing catches it' } });
    // Drained like a SIGTERM, not cut off where it stood.
    expect(lines.some((l) => l.msg === 'shutting down' && l.reason === 'uncaughtException')).toBe(true);
  }, 30_000);
});
