// BullMQ defines its 64 scripts on every connection a Queue is opened on, and ioredis copies all
// of them onto each pipeline built on that connection (~85 µs against ~1 µs without them). The
// command connection builds one per tick (auto-pipelining) and one per rate-limit lease batch,
// so on one Redis no queue may be opened on it: every queue rides `pub`, which is corked instead
// of pipelined. Checked on every role, with and without offline push (which opens queues too).
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startCluster, type Cluster } from './support/cluster.js';

const clusters: Cluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.close()));
});

const scripts = (client: unknown) => Object.keys((client as Redis & { scriptsSet: Record<string, unknown> }).scriptsSet);

describe('queue connection (one Redis)', () => {
  it.each([
    ['without push', {}],
    ['with push', { PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/push', PUSH_WEBHOOK_SECRET: 'push-secret' }],
  ])('%s: BullMQ scripts are on the queue connection of every role, none on the command connection', async (_name, env) => {
    const cluster = await startCluster({ roles: ['all', 'gateway', 'worker'], env });
    clusters.push(cluster);
    for (const { app } of cluster.nodes) {
      const { cmd, queues, pub } = app.redis;
      expect(queues).toBe(pub);
      // The queues have defined their scripts (named `<script>:<BullMQ version>`) by now.
      const bullmq = scripts(queues).filter((name) => name.startsWith('addStandardJob:'));
      expect(bullmq).toHaveLength(1);
      expect(scripts(cmd).filter((name) => scripts(queues).includes(name))).toEqual([]);
    }
  });
});
