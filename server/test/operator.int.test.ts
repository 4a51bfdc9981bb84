// PROTOCOL.md §7 operator surfaces on two gateway nodes: the dead-letter replay accepts only
// ids of dead-letter jobs, so BullMQ's own keys (`meta`, …) cannot be replayed and deleted; the
// queue dashboard is read-only; wrong Basic passwords are limited per client IP.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE } from '../delivery/queue.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { client } from './support/http.js';

let cluster: Cluster;
let redis: Redis;
const PASSWORD = 'correct-horse-battery-staple';
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

beforeAll(async () => {
  // Scale 0.05: 5 failed admin Basic attempts per 10 s per client IP.
  cluster = await startCluster({ nodes: 2, env: { ADMIN_BASIC_AUTH: `ops:${PASSWORD}`, RATE_LIMIT_SCALE: '0.05' } });
  redis = new Redis(cluster.env.REDIS_URL!);
});
afterAll(async () => {
  await redis?.quit();
  await cluster?.close();
});

describe('dead-letter replay (§7)', () => {
  it('POST /v1/admin/dlq/meta/retry is 404 on both nodes and leaves the queue keys in place', async () => {
    const metaKey = `${cluster.env.REDIS_PREFIX}:${DEAD_LETTER_QUEUE}:meta`;
    const before = await redis.hgetall(metaKey);
    expect(Object.keys(before).length).toBeGreaterThan(0); // the key this replay would have read
    for (const node of cluster.nodes) {
      const admin = client(node.url, cluster.token('op-admin', { roles: ['admin'] }));
      for (const id of ['meta', 'id', 'events', 'no-such-job']) {
        const res = await admin.post(`/v1/admin/dlq/${id}/retry`);
        expect([id, res.status]).toEqual([id, 404]);
      }
    }
    expect(await redis.hgetall(metaKey)).toEqual(before);
  });
});

describe('queue dashboard (§7)', () => {
  it('is read-only: an admin cannot add, retry, clean or remove through it; reads work', async () => {
    const jobsKey = `${cluster.env.REDIS_PREFIX}:delivery:id`;
    const before = await redis.get(jobsKey);
    for (const node of cluster.nodes) {
      const admin = client(node.url, cluster.token('op-admin', { roles: ['admin'] }));
      expect((await admin.get('/admin/queues/api/queues')).status).toBe(200);
      const writes: [string, string][] = [
        ['POST', '/admin/queues/api/queues/delivery/add'],
        ['PUT', '/admin/queues/api/queues/delivery/retry/failed'],
        ['PUT', '/admin/queues/api/queues/delivery/clean/completed'],
        ['PUT', '/admin/queues/api/queues/delivery/pause'],
        ['DELETE', '/admin/queues/api/queues/delivery/empty'],
      ];
      for (const [method, path] of writes) {
        const res = await admin.request(method, path, { json: { name: 'deliver', data: { messages: [] } } });
        expect([method, path, res.status]).toEqual([method, path, 403]);
      }
    }
    expect(await redis.get(jobsKey)).toBe(before); // no job id was ever taken
  });

  it('wrong Basic passwords: 5 answered 401, then 429 on both nodes; the right one still opens it', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) codes.push((await client(cluster.nodes[i % 2]!.url).get('/admin/queues/api/queues', { headers: basic('ops', `guess-${i}`) })).status);
    expect(codes.filter((c) => c === 401).length).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThanOrEqual(5);
    expect(codes.filter((c) => c !== 401 && c !== 429)).toEqual([]);
    expect((await client(cluster.nodes[0]!.url).get('/admin/queues/api/queues', { headers: basic('ops', PASSWORD) })).status).toBe(200);
  });
});
