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
