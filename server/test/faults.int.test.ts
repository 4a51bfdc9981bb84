// Faults (#6): Redis stopped and restarted under a send load, and a worker process killed with
// jobs in flight. Each asserts that no acknowledged message is lost or stored twice.
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import type { ClientSocket } from './support/clients.js';
import { call, clientMsgId, inbox, queueDrained, raw } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';

const clusters: Cluster[] = [];
const redises: PrivateRedis[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
  await Promise.all(redises.map((r) => r.stop().catch(() => {})));
});

async function syncAll(socket: ClientSocket, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  let after = 0;
  for (;;) {
    const page = await call(socket, 'conversation:sync', { conversationId, afterSeq: after, limit: 200 });
    out.push(...page.messages);
    if (!page.hasMore) return out;
    after = page.messages[page.messages.length - 1]!.seq;
  }
}

async function readyStatus(url: string): Promise<{ status: number; failing: string[] }> {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { failing: string[] };
  return { status: res.status, failing: body.failing };
}

describe('Redis restarted during a send load', () => {
  it('no process exits, every acknowledged message is stored once and reaches members after sync, cross-node emits resume', async () => {
    const redis = await startPrivateRedis();
    redises.push(redis);
    const cluster = await startCluster({ nodes: 2, env: { REDIS_URL: redis.url, RATE_LIMIT_SCALE: '50' } });
    clusters.push(cluster);
    const alice = await cluster.connect('rr-alice', 0);
    const bob = await cluster.connect('rr-bob', 1);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'redis blip', memberIds: ['rr-bob'] });

    const acked = new Map<string, Message>();
    const refusals = new Map<string, number>();
    let stop = false;
    // Two senders, one per node, each retrying a refused send with the same clientMsgId.
    const sender = async (socket: ClientSocket, tag: string) => {
      for (let i = 0; !stop; i++) {
        const id = clientMsgId(tag);
        for (let attempt = 0; attempt < 200 && !stop; attempt++) {
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

    await new Promise((r) => setTimeout(r, 300)); // let some load through first (pacing)
    await redis.stop();
    const stoppedAt = Date.now();
    // /readyz turns 503 naming redis within seconds.
    let ready = await readyStatus(cluster.nodes[0]!.url);
    while (ready.status !== 503 && Date.now() - stoppedAt < 5_000) ready = await readyStatus(cluster.nodes[0]!.url);
    expect(ready).toEqual({ status: 503, failing: ['redis'] });
    // A send during the outage is refused fast with UNAVAILABLE.
    const t0 = Date.now();
    const during = await raw(alice, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('x'), kind: 'text', text: 'during' });
    expect(during).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    expect(Date.now() - t0).toBeLessThan(1_000);

    await redis.restart();
    const restartedAt = Date.now();
    const ackedAtRestart = acked.size;
    // Cross-node emits work again within 5 s of Redis being back.
    const bobBox = inbox(bob);
    let probe: Message | undefined;
    while (!probe && Date.now() - restartedAt < 5_000) {
      const res = await raw(alice, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('probe'), kind: 'text', text: 'probe' });
      if (res.ok) probe = res.message;
    }
    expect(probe).toBeDefined();
    acked.set(probe!.id, probe!);
    await bobBox.hasAll([probe!.id], Math.max(100, 5_000 - (Date.now() - restartedAt)));

    await new Promise((r) => setTimeout(r, 300)); // more load after recovery (pacing)
    stop = true;
    await load;
    // The load went on after Redis came back (the senders were not wedged).
    expect(acked.size).toBeGreaterThan(ackedAtRestart + 2);
    expect([...refusals.keys()].filter((code) => code !== 'UNAVAILABLE')).toEqual([]);

    const synced = await syncAll(bob, conversation.id);
    const byId = new Map(synced.map((m) => [m.id, m]));
    for (const id of acked.keys()) expect(byId.has(id), `acked ${id} missing`).toBe(true);
    const texts = synced.filter((m) => m.kind === 'text');
    expect(new Set(texts.map((m) => `${m.senderId}/${m.clientMsgId}`)).size).toBe(texts.length);
    for (const node of cluster.nodes) expect((await readyStatus(node.url)).status).toBe(200);
  }, 60_000);
});

describe('worker process killed with jobs in flight', () => {
  it('every job completes after a new worker starts, and each message is stored once', async () => {
    const cluster = await startCluster({ roles: ['gateway', 'gateway'], env: { RATE_LIMIT_SCALE: '50' } });
    clusters.push(cluster);
    const alice = await cluster.connect('wk2-alice', 0);
    const bob = await cluster.connect('wk2-bob', 1);
    const bobBox = inbox(bob);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'worker dies', memberIds: ['wk2-bob'] });
    // Everything is enqueued before any worker runs, so the worker is killed mid-queue.
    // In bursts of 50, as a client with a bounded send window would.
    const sent: Awaited<ReturnType<typeof call<'message:send'>>>[] = [];
    for (let burst = 0; burst < 8; burst++) {
      sent.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            call(alice, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId('wk'), kind: 'text', text: `job ${burst * 50 + i}` }),
          ),
        )),
      );
    }
    const first = await cluster.spawnNode({ ROLE: 'worker', WORKER_CONCURRENCY: '2' });
    await bobBox.until((events) => events.length >= 5, 20_000);
    first.proc.kill('SIGKILL');
    await first.exited;
    const deliveredBeforeRestart = bobBox.byId().size;
    expect(deliveredBeforeRestart).toBeLessThan(sent.length + 1);

    await cluster.spawnNode({ ROLE: 'worker' });
    await bobBox.hasAll(sent.map((s) => s.message.id), 40_000);
    await queueDrained(cluster.env.REDIS_URL!, cluster.env.REDIS_PREFIX!, 30_000);
    const synced = await syncAll(bob, conversation.id);
    const texts = synced.filter((m) => m.kind === 'text');
    expect(texts).toHaveLength(400);
    expect(new Set(texts.map((m) => m.clientMsgId)).size).toBe(400);
  }, 90_000);
});
