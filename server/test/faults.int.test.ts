// Faults (#6): Redis stopped and restarted under a send load, and a worker process killed with
// jobs in flight. Each asserts that no acknowledged message is lost or stored twice, and that a
// refused send stored nothing.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import type { ClientSocket } from './support/clients.js';
import { call, clientMsgId, inbox, queueDrained, raw, storedMessages } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { deliveryQueue, freezeWithActiveJobs } from './support/queue-state.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';
import { until } from './support/until.js';

const clusters: Cluster[] = [];
const redises: PrivateRedis[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
  await Promise.all(redises.map((r) => r.remove().catch(() => {})));
});

async function readyStatus(url: string): Promise<{ status: number; failing: string[] }> {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { failing: string[] };
  return { status: res.status, failing: body.failing };
}


describe('Redis restarted during a send load', () => {
  it('no process exits; refused sends store nothing; every acked message is stored once and delivered live; cross-node emits resume', async () => {
    // AOF with fsync on every write: what Redis acknowledged (the delivery jobs) survives the kill.
    const redis = await startPrivateRedis({ aof: true });
    redises.push(redis);
    // No worker until Redis is back: every job enqueued before the outage must outlive the restart.
    const cluster = await startCluster({ roles: ['gateway', 'gateway'], env: { REDIS_URL: redis.url, RATE_LIMIT_SCALE: '50' } });
    clusters.push(cluster);
    const alice = await cluster.connect('rr-alice', 0);
    const bob = await cluster.connect('rr-bob', 1);
    const carol = await cluster.connect('rr-carol', 0);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'redis blip', memberIds: ['rr-bob', 'rr-carol'] });
    const carolBox = inbox(carol); // a member who only listens, from before the first send

    const acked = new Map<string, Message>();
    const refusals = new Map<string, number>();
    let stop = false;
    // Two senders, one per node. A refused send is retried with the same clientMsgId until it is
    // acked (stopping only between messages), so every id they tried ends up acked.
    const sender = async (socket: ClientSocket, tag: string) => {
      for (let i = 0; !stop; i++) {
        const id = clientMsgId(tag);
        for (let attempt = 0; ; attempt++) {
          if (attempt > 600) throw new Error(`${tag}: ${id} never acked`);
          const res = await raw(socket, 'message:send', { conversationId: conversation.id, clientMsgId: id, kind: 'text', text: `${tag} ${i}` });
          if (res.ok) {
            acked.set(res.message.id, res.message);
            await new Promise((r) => setTimeout(r, 10)); // a steady load, not a flood the workers lag behind
            break;
          }
          refusals.set(res.error.code, (refusals.get(res.error.code) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 50)); // client back-off before a retry
        }
      }
    };
    const load = Promise.all([sender(alice, 'a'), sender(bob, 'b')]);

    await until('some load before the outage', () => acked.size >= 20, 20_000);
    await redis.stop();
    const stoppedAt = Date.now();
    // /readyz turns 503 naming redis.
    await until('/readyz 503', async () => (await readyStatus(cluster.nodes[0]!.url)).status === 503, 10_000);
    expect(await readyStatus(cluster.nodes[0]!.url)).toEqual({ status: 503, failing: ['redis'] });
    // Sends during the outage, on both nodes, are refused with UNAVAILABLE, promptly (well inside
    // a client's 10 s ack timeout; the bound is loose because the machine is loaded), and are
    // never retried: none of them may leave a row behind.
    const refusedIds: string[] = [];
    for (const socket of [alice, bob, alice, bob]) {
      const id = clientMsgId('x');
      const t0 = Date.now();
      const during = await raw(socket, 'message:send', { conversationId: conversation.id, clientMsgId: id, kind: 'text', text: 'during' });
      expect(during).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
      expect(Date.now() - t0).toBeLessThan(5_000);
      refusedIds.push(id);
    }
    expect(Date.now() - stoppedAt).toBeLessThan(30_000); // the outage really spans these sends

    await redis.restart();
    const ackedAtRestart = acked.size;
    // The worker runs the jobs queued before the outage as soon as it starts; their emits reach
    // only the gateways whose adapter subscriber is back (pub/sub keeps nothing for a subscriber
    // that is still reconnecting: up to 2 s of retry back-off). So: both gateways subscribed first.
    const watcher = new Redis(redis.url);
    try {
      const subscribed = async () => ((await watcher.client('LIST')) as string).split('\n').filter((c) => /:adapter-sub .* psub=1 /.test(c)).length;
      await until('both gateways resubscribed', async () => (await subscribed()) === 2, 15_000);
    } finally {
      watcher.disconnect();
    }
    await cluster.addNode({ ROLE: 'worker' });
    // Cross-node emits work again: a send from node 0 reaches bob on node 1 live.
    const bobBox = inbox(bob);
    let probe: Message | undefined;
    await until(
      'a send accepted after the restart',
      async () => {
        const res = await raw(alice, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('probe'), kind: 'text', text: 'probe' });
        if (res.ok) probe = res.message;
        return res.ok;
      },
      15_000,
    );
    acked.set(probe!.id, probe!);
    await bobBox.hasAll([probe!.id], 15_000);

    // The load goes on after Redis came back (the senders were not wedged).
    await until('more load after recovery', () => acked.size >= ackedAtRestart + 20, 20_000);
    stop = true;
    await load;
    expect([...refusals.keys()].filter((code) => code !== 'UNAVAILABLE')).toEqual([]);

    // Every acked message reaches a member live (its job survived the restart, or the retried
    // duplicate re-enqueued it), not only through sync.
    await carolBox.hasAll(acked.keys(), 30_000);

    // The store holds exactly the acked messages, each once, and nothing of a refused send.
    const stored = (await storedMessages(cluster.nodes[0]!.app, 'rr-carol', conversation.id)).filter((m) => m.kind === 'text');
    expect(stored.map((m) => m.id).sort()).toEqual([...acked.keys()].sort());
    expect(new Set(stored.map((m) => `${m.senderId}/${m.clientMsgId}`)).size).toBe(stored.length);
    const storedClientIds = new Set(stored.map((m) => m.clientMsgId));
    for (const id of refusedIds) expect(storedClientIds.has(id), `refused ${id} was stored`).toBe(false);
    for (const node of cluster.nodes) expect((await readyStatus(node.url)).status).toBe(200);
  }, 120_000);
});

describe('a send stored but never enqueued', () => {
  it('is delivered live when the client retries it: the retry acks duplicate and re-enqueues the delivery', async () => {
    const cluster = await startCluster({ nodes: 2 });
    clusters.push(cluster);
    const alice = await cluster.connect('se-alice', 0);
    const bob = await cluster.connect('se-bob', 1);
    const bobBox = inbox(bob);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'stored only', memberIds: ['se-bob'] });
    // What a send leaves behind when Redis fails between the store write and the enqueue.
    const id = clientMsgId('orphan');
    const { message } = await cluster.nodes[0]!.app.store.appendMessage({
      conversationId: conversation.id,
      senderId: 'se-alice',
      clientMsgId: id,
      kind: 'text',
      text: 'stored, no job',
    });
    const retry = await call(alice, 'message:send', { conversationId: conversation.id, clientMsgId: id, kind: 'text', text: 'stored, no job' });
    expect(retry).toMatchObject({ duplicate: true, message: { id: message.id } });
    await bobBox.hasAll([message.id]);
  });
});

describe('worker process killed with jobs in flight', () => {
  it('the jobs it held and the ones still waiting all complete after a new worker starts, each message stored once', async () => {
    // One job per send (no group commit), so there are many jobs to be caught mid-queue.
    const cluster = await startCluster({ roles: ['gateway', 'gateway'], env: { RATE_LIMIT_SCALE: '50', APPEND_BATCH_MAX: '1' } });
    clusters.push(cluster);
    const queue = deliveryQueue(cluster.env.REDIS_URL!, cluster.env.REDIS_PREFIX!);
    try {
      const alice = await cluster.connect('wk2-alice', 0);
      const bob = await cluster.connect('wk2-bob', 1);
      const bobBox = inbox(bob);
      const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'worker dies', memberIds: ['wk2-bob'] });
      // Everything is enqueued before any worker runs, in bursts of 50 as a client with a
      // bounded send window would.
      const sent: Message[] = [];
      for (let burst = 0; burst < 8; burst++) {
        const acks = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            call(alice, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('wk'), kind: 'text', text: `job ${burst * 50 + i}` }),
          ),
        );
        sent.push(...acks.map((a) => a.message));
      }
      const first = await cluster.spawnNode({ ROLE: 'worker', WORKER_CONCURRENCY: '2' });
      await bobBox.until((events) => events.length >= 5, 30_000);
      // Killed while it holds jobs (active, their locks now orphaned) and others still wait.
      const atDeath = await freezeWithActiveJobs(first.proc, queue);
      first.proc.kill('SIGKILL');
      await first.exited;
      expect(atDeath.active).toBeGreaterThan(0);
      expect(atDeath.waiting).toBeGreaterThan(0);
      expect(bobBox.byId().size).toBeLessThan(sent.length);

      await cluster.spawnNode({ ROLE: 'worker' });
      await bobBox.hasAll(
        sent.map((m) => m.id),
        45_000,
      );
      await queueDrained(cluster.env.REDIS_URL!, cluster.env.REDIS_PREFIX!, 30_000);
      expect((await queue.counts()).failed).toBe(0);
      const stored = (await storedMessages(cluster.nodes[0]!.app, 'wk2-bob', conversation.id)).filter((m) => m.kind === 'text');
      expect(stored.map((m) => m.id).sort()).toEqual(sent.map((m) => m.id).sort());
      expect(new Set(stored.map((m) => m.clientMsgId)).size).toBe(sent.length);
    } finally {
      await queue.close();
    }
  }, 120_000);
});
