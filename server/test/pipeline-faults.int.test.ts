// Delivery under failure (#4): a separate ROLE=worker process, a gateway node killed right
// after acknowledging, and a job that keeps failing until it lands in the dead-letter queue.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE, JOB_NAME } from '../delivery/queue.js';
import { connectClient } from './support/clients.js';
import { call, clientMsgId, inbox, queueDrained } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { mintToken } from './support/tokens.js';

const clusters: Cluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

const text = (conversationId: string, body: string) => ({ conversationId, clientMsgId: clientMsgId(), kind: 'text' as const, text: body });

describe('ROLE=worker as a separate process', () => {
  it('delivers messages accepted by two gateway-only nodes to members on both', async () => {
    const cluster = await startCluster({ roles: ['gateway', 'gateway'] });
    clusters.push(cluster);
    await cluster.spawnNode({ ROLE: 'worker' });
    const alice = await cluster.connect('wk-alice', 0);
    const bob = await cluster.connect('wk-bob', 1);
    const bobInbox = inbox(bob);
    const aliceInbox = inbox(alice);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'via worker', memberIds: ['wk-bob'] });
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => call(alice, 'message:send', text(conversation.id, `w${i}`))));
    const ids = sent.map((s) => s.message.id);
    // The worker process may still be warming up on a loaded machine.
    await bobInbox.hasAll(ids, 30_000);
    await aliceInbox.hasAll(ids, 30_000);
  });
});

describe('a gateway node killed right after acknowledging', () => {
  it('every acknowledged message still reaches the other members and is stored once', async () => {
    const cluster = await startCluster({ nodes: 1 });
    clusters.push(cluster);
    const doomed = await cluster.spawnNode({ ROLE: 'all' });
    const sender = await connectClient(doomed.url, mintToken('k-alice'));
    const bob = await cluster.connect('k-bob', 0);
    const bobInbox = inbox(bob);
    const { conversation } = await call(sender, 'conversation:create', { type: 'group', title: 'doomed', memberIds: ['k-bob'] });

    const acked: Message[] = [];
    let halfAcked!: () => void;
    const half = new Promise<void>((resolve) => (halfAcked = resolve));
    const pending = Array.from({ length: 40 }, (_, i) =>
      call(sender, 'message:send', text(conversation.id, `k${i}`)).then(
        (r) => {
          acked.push(r.message);
          if (acked.length === 20) halfAcked();
        },
        () => {},
      ),
    );
    // Kill as soon as the first half is acknowledged; some sends are still in flight.
    await half;
    doomed.proc.kill('SIGKILL');
    await doomed.exited;
    await Promise.allSettled(pending);
    expect(acked.length).toBeGreaterThanOrEqual(20);

    // Within the 30 s promise of PROTOCOL.md §4 (stalled jobs are re-run by the surviving worker).
    await bobInbox.hasAll(acked.map((m) => m.id), 30_000);
    const history = await cluster.nodes[0]!.app.messaging!.messages.history('k-bob', { conversationId: conversation.id, limit: 200 });
    const stored = history.messages.filter((m) => m.kind === 'text');
    for (const m of acked) expect(stored.filter((s) => s.id === m.id)).toHaveLength(1);
    expect(new Set(stored.map((m) => m.clientMsgId)).size).toBe(stored.length);
  }, 60_000);
});

describe('dead-letter queue', () => {
  it('a malformed job fails at once (retrying cannot fix it) and lands in the DLQ', async () => {
    const cluster = await startCluster({ nodes: 1, env: { DELIVERY_ATTEMPTS: '3', DELIVERY_BACKOFF_MS: '20' } });
    clusters.push(cluster);
    const connection = new Redis(cluster.env.REDIS_URL!, { maxRetriesPerRequest: null });
    const queue = new Queue(DELIVERY_QUEUE, { connection, prefix: cluster.env.REDIS_PREFIX });
    const dlq = new Queue(DEAD_LETTER_QUEUE, { connection, prefix: cluster.env.REDIS_PREFIX });
    try {
      // A poison payload: not a message. The worker must not crash or emit anything.
      const job = await queue.add(JOB_NAME, { message: { id: { $gt: '' } }, acceptedAt: Date.now() } as never, {
        attempts: 3,
        backoff: { type: 'exponential', delay: 20 },
        jobId: 'poison-1',
      });
      await queueDrained(cluster.env.REDIS_URL!, cluster.env.REDIS_PREFIX!);
      const failed = await queue.getJob(job.id!);
      expect(await failed?.getState()).toBe('failed');
      // UnrecoverableError: one attempt, not the three allowed.
      expect(failed?.attemptsMade).toBe(1);
      const deadline = Date.now() + 5_000;
      let dead = await dlq.getJobs(['waiting']);
      while (dead.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        dead = await dlq.getJobs(['waiting']);
      }
      expect(dead).toHaveLength(1);
      expect(dead[0]!.data).toMatchObject({ originalJobId: 'poison-1', attemptsMade: 1 });
      expect(dead[0]!.data.failedReason).toMatch(/malformed delivery job/);
    } finally {
      await queue.close();
      await dlq.close();
      await connection.quit();
    }
  });

  it('after a delivery ran, the queue is empty and the message reached the room once', async () => {
    const cluster = await startCluster({ nodes: 1 });
    clusters.push(cluster);
    const alice = await cluster.connect('q-alice', 0);
    const box = inbox(alice);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'solo' });
    const sent = await call(alice, 'message:send', text(conversation.id, 'hello'));
    await box.hasAll([sent.message.id]);
    await queueDrained(cluster.env.REDIS_URL!, cluster.env.REDIS_PREFIX!);
    expect(box.count(sent.message.id)).toBe(1);
  });
});
