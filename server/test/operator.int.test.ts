// PROTOCOL.md §7 operator surfaces on two gateway nodes: the dead-letter replay accepts only
// ids of dead-letter jobs, so BullMQ's own keys (`meta`, …) cannot be replayed and deleted.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE } from '../delivery/queue.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { client } from './support/http.js';

let cluster: Cluster;
let redis: Redis;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
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
