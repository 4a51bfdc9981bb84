// A node that dies leaves its users' hash behind for the sweepers. A sweeper whose own beat runs
// late (a busy node) must still find whom to report offline: with a hash that outlived the
// dead-after bound by only one beat, a sweep more than one beat late found nothing and the
// users' offline events were never sent.
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import type { Presence } from '../../protocol/index.js';
import { createLogger } from '../logger.js';
import { deleteRedisPrefix, freshRedisPrefix, redisUrl } from '../test/support/env.js';
import { until } from '../test/support/until.js';
import { createPresenceNode } from './presence-node.js';
import { DEAD_AFTER_BEATS } from './presence-store.js';

const HEARTBEAT_MS = 200;
const DEAD_AFTER_MS = HEARTBEAT_MS * DEAD_AFTER_BEATS;
const logger = createLogger({ level: 'silent', nodeId: 'test' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

it('a sweep that runs more than a beat late still reports the dead node’s users offline', async () => {
  const prefix = freshRedisPrefix();
  cleanups.push(() => deleteRedisPrefix(prefix));
  const redisA = new Redis(redisUrl());
  const doomed = createPresenceNode({ redis: redisA, prefix, nodeId: 'doomed', heartbeatMs: HEARTBEAT_MS, logger, onChange: () => {} });
  await doomed.start();
  doomed.connected('dave');
  await until('the doomed node counts dave', async () => (await redisA.hget(doomed.store.keys.node('doomed'), 'dave')) === '1');

  // The node dies: its last beat has run, nothing of it beats or cleans up any more.
  redisA.disconnect();
  cleanups.push(() => doomed.close());
  // The sweeper's first beat comes half a beat after the one that would have found it dead
  // and another beat later than the old margin allowed.
  await new Promise((resolve) => setTimeout(resolve, DEAD_AFTER_MS + 1.5 * HEARTBEAT_MS));

  const redisB = new Redis(redisUrl());
  cleanups.push(() => redisB.quit());
  const changes: Presence[] = [];
  const sweeper = createPresenceNode({ redis: redisB, prefix, nodeId: 'sweeper', heartbeatMs: HEARTBEAT_MS, logger, onChange: (p) => void changes.push(p) });
  cleanups.push(() => sweeper.close());
  await sweeper.start(); // its first beat sweeps
  expect(changes).toContainEqual(expect.objectContaining({ userId: 'dave', online: false }));
  expect((await sweeper.store.online(['dave'])).has('dave')).toBe(false);
});

it('a dead node with thousands of users is reported offline a slice at a time, none missed, none who is still here', async () => {
  const prefix = freshRedisPrefix();
  cleanups.push(() => deleteRedisPrefix(prefix));
  const users = Array.from({ length: 1_200 }, (_, i) => `u${i}`);
  const redisA = new Redis(redisUrl());
  const doomed = createPresenceNode({ redis: redisA, prefix, nodeId: 'doomed', heartbeatMs: HEARTBEAT_MS, logger, onChange: () => {} });
  await doomed.start();
  for (const u of users) doomed.connected(u);
  await until('the doomed node counts all', async () => (await redisA.hlen(doomed.store.keys.node('doomed'))) === users.length);
  redisA.disconnect();
  cleanups.push(() => doomed.close());
  await new Promise((resolve) => setTimeout(resolve, DEAD_AFTER_MS + HEARTBEAT_MS));

  // Every HMGET the sweep sends, as Redis received it.
  const monitor = await new Redis(redisUrl()).monitor();
  cleanups.push(async () => monitor.disconnect());
  const lookups: number[] = [];
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'hmget' && args[1]?.startsWith(prefix)) lookups.push(args.length - 2);
  });

  const redisB = new Redis(redisUrl());
  cleanups.push(() => redisB.quit());
  const offline: string[] = [];
  const sweeper = createPresenceNode({
    redis: redisB, prefix, nodeId: 'sweeper', heartbeatMs: HEARTBEAT_MS, logger,
    onChange: (p) => void (p.online ? undefined : offline.push(p.userId)),
  });
  cleanups.push(() => sweeper.close());
  // Two of them are back, on the sweeper.
  sweeper.connected('u600');
  sweeper.connected('u1100');
  await sweeper.start(); // its first beat sweeps
  await until('every offline event is out', async () => offline.length >= users.length - 2);
  expect(new Set(offline).size).toBe(offline.length);
  expect(offline.sort()).toEqual(users.filter((u) => u !== 'u600' && u !== 'u1100').sort());
  await until('the monitor saw the lookups', async () => lookups.reduce((a, b) => a + b, 0) >= users.length);
  expect(Math.max(...lookups)).toBeLessThanOrEqual(500);
});
