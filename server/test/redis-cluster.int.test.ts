// REDIS_MODE=cluster (#15, PROTOCOL.md §8) on a real six-node Redis Cluster started for this
// file: two gateway-only nodes and a separate worker process, so every send crosses the cluster
// twice (BullMQ on hash-tagged keys, then the sharded adapter's SPUBLISH from the worker), plus a
// ROLE=all node for the third role. The failover test runs last: it kills the queues' master.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster as RedisCluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { call, clientMsgId, inbox, raw } from './support/chat.js';
import type { ClientSocket } from './support/clients.js';
import { startCluster, type Cluster, type SpawnedNode } from './support/cluster.js';
import { http } from './support/http.js';
import { redisClusterUnavailable, startRedisCluster, type TestRedisCluster } from './support/redis-cluster.js';

const missing = redisClusterUnavailable();
if (missing) console.warn(`skipping the Redis Cluster tests: ${missing}`);

let rc: TestRedisCluster;
let cluster: Cluster;
let worker: SpawnedNode;
let redis: RedisCluster;

beforeAll(async () => {
  if (missing) return;
  rc = await startRedisCluster();
  cluster = await startCluster({ roles: ['gateway', 'gateway'], env: { REDIS_MODE: 'cluster', REDIS_URL: rc.seeds } });
  worker = await cluster.spawnNode({ ROLE: 'worker' });
  await cluster.addNode({ ROLE: 'all' });
  redis = new RedisCluster(rc.seeds.split(',').map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) })));
}, 90_000);
afterAll(async () => {
  redis?.disconnect();
  await cluster?.close();
  await rc?.stop();
});

const text = (conversationId: string, body: string, id = clientMsgId('rc')) => ({ conversationId, clientMsgId: id, kind: 'text' as const, text: body });

/** Users u0..u(n-1) with tag, alternately on gateway 0 and 1. */
async function members(tag: string, n: number): Promise<{ ids: string[]; sockets: ClientSocket[] }> {
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  const sockets = await Promise.all(ids.map((id, i) => cluster.connect(id, i % 2)));
  return { ids, sockets };
}

/** Every message of a conversation, through `conversation:sync` as `socket`'s user (all pages). */
async function synced(socket: ClientSocket, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let afterSeq = 0; ; ) {
    const page = await call(socket, 'conversation:sync', { conversationId, afterSeq, limit: 200 });
    out.push(...page.messages);
    if (!page.hasMore) return out;
    afterSeq = page.messages.at(-1)!.seq;
  }
}

describe.skipIf(missing)('REDIS_MODE=cluster on a real Redis Cluster', () => {
  it('keeps each queue in one slot, and spreads room channels over the masters', async () => {
    const { ids, sockets } = await members('slot', 2);
    // Ten conversations: ten room channels, hashed by name over the 16,384 slots.
    for (let i = 0; i < 10; i++) await call(sockets[0]!, 'conversation:create', { type: 'group', title: `s${i}`, memberIds: [ids[1]!] });
    const prefix = cluster.env.REDIS_PREFIX!;
    const masters = redis.nodes('master');
    const queueKeys = await Promise.all(masters.map((m) => m.keys(`{${prefix}}:*`)));
    expect(queueKeys.filter((keys) => keys.length > 0)).toHaveLength(1);
    expect(queueKeys.flat().some((k) => k.startsWith(`{${prefix}}:delivery:`))).toBe(true);
    const channels = await Promise.all(masters.map((m) => m.call('PUBSUB', 'SHARDCHANNELS', `${prefix}:sio#/#c:*`) as Promise<string[]>));
    expect(channels.flat().length).toBeGreaterThanOrEqual(10);
    expect(channels.filter((c) => c.length > 0).length).toBeGreaterThan(1);
  });

  it('two gateways and a worker: every acked message of a group and a channel reaches every member once, stored once', async () => {
    const { ids, sockets } = await members('gc', 6);
    const [owner] = sockets;
    const group = (await call(owner!, 'conversation:create', { type: 'group', title: 'cluster group', memberIds: ids.slice(1) })).conversation;
    const channel = (await call(owner!, 'conversation:create', { type: 'channel', title: 'cluster channel', memberIds: ids.slice(1) })).conversation;
    const boxes = sockets.map(inbox);
    // Every member posts 10 to the group at once; the owner posts 20 to the channel.
    const sends = [
      ...sockets.flatMap((s, i) => Array.from({ length: 10 }, (_, k) => call(s, 'message:send', text(group.id, `g${i}.${k}`)))),
      ...Array.from({ length: 20 }, (_, k) => call(owner!, 'message:send', text(channel.id, `c${k}`))),
    ];
    const acked = (await Promise.all(sends)).map((r) => r.message);
    expect(acked).toHaveLength(80);
    const wanted = acked.map((m) => m.id);
    await Promise.all(boxes.map((b) => b.hasAll(wanted, 20_000)));
    for (const box of boxes) {
      const got = [...box.byId().values()].filter((m) => m.kind === 'text');
      expect(got).toHaveLength(80);
    }
    for (const [conversationId, n] of [[group.id, 60], [channel.id, 20]] as const) {
      const stored = (await synced(sockets[5]!, conversationId)).filter((m) => m.kind === 'text');
      expect(stored).toHaveLength(n);
      expect(new Set(stored.map((m) => m.id)).size).toBe(n);
    }
    // The operator surfaces read the same queues through the cluster client.
    const admin = cluster.token('rc-admin', { roles: ['admin'] });
    const board = await http<{ queues: { name: string; counts: Record<string, number> }[] }>(cluster.nodes[1]!.url, 'GET', '/admin/queues/api/queues', { token: admin });
    expect(board.status).toBe(200);
    expect(board.body.queues.map((q) => q.name).sort()).toEqual(['delivery', 'delivery-dlq', 'delivery-system']);
    expect(board.body.queues.find((q) => q.name === 'delivery')!.counts.completed).toBeGreaterThan(0);
    expect((await http(cluster.nodes[0]!.url, 'GET', '/v1/admin/dlq', { token: admin })).status).toBe(200);
  });

  it('a ROLE=all node takes part: members on it and on a gateway see each other\'s messages', async () => {
    const onAll = await cluster.connect('all-0', 2);
    const onGateway = await cluster.connect('all-1', 0);
    const { conversation } = await call(onAll, 'conversation:create', { type: 'group', title: 'all role', memberIds: ['all-1'] });
    const [a, b] = [inbox(onAll), inbox(onGateway)];
    const sent = await Promise.all([
      ...Array.from({ length: 10 }, (_, k) => call(onAll, 'message:send', text(conversation.id, `a${k}`))),
      ...Array.from({ length: 10 }, (_, k) => call(onGateway, 'message:send', text(conversation.id, `b${k}`))),
    ]);
    const ids = sent.map((r) => r.message.id);
    await Promise.all([a.hasAll(ids, 20_000), b.hasAll(ids, 20_000)]);
    expect([...b.byId().values()].filter((m) => m.kind === 'text')).toHaveLength(20);
    expect([...a.byId().values()].filter((m) => m.kind === 'text')).toHaveLength(20);
  });

  it('holds a user to the send limit across both gateways (100 per window, within 10 %)', async () => {
    const user = 'rl-user';
    const a = await cluster.connect(user, 0);
    const b = await cluster.connect(user, 1);
    const { conversation } = await call(a, 'conversation:create', { type: 'group', title: 'limits' });
    // Eight sends in flight per socket (under the per-socket in-flight cap), alternating nodes.
    const results: Awaited<ReturnType<typeof raw<'message:send'>>>[] = [];
    let next = 0;
    const lane = async (socket: ClientSocket) => {
      while (next < 150) results.push(await raw(socket, 'message:send', text(conversation.id, `r${next++}`)));
    };
    await Promise.all([a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b].map(lane));
    const accepted = results.filter((r) => r.ok).length;
    const refused = results.filter((r) => !r.ok);
    // The create's system message costs nothing; 100 sends per 5 s (PROTOCOL.md §3).
    expect(accepted).toBeLessThanOrEqual(100);
    expect(accepted).toBeGreaterThanOrEqual(90);
    expect(refused.map((r) => (r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`))).toEqual(Array(150 - accepted).fill('RATE_LIMITED: too many send requests'));
  });

  it('a killed master: sends answer UNAVAILABLE or succeed, retries land once, every member gets every acked message', async () => {
    const { ids, sockets } = await members('fo', 4);
    const { conversation } = await call(sockets[0]!, 'conversation:create', { type: 'group', title: 'failover', memberIds: ids.slice(1) });
    const boxes = sockets.map(inbox);
    const prefix = cluster.env.REDIS_PREFIX!;
    const slot = Number(await promisify(execFile)('redis-cli', ['-p', String(rc.nodes[0]!.port), 'cluster', 'keyslot', `{${prefix}}`]).then((r) => r.stdout.trim()));
    const victim = await rc.masterOf(slot);

    // Each member sends in a loop; a failed send is retried with the same clientMsgId.
    const acked: Message[] = [];
    const answers = { ok: 0, unavailable: 0, other: [] as string[] };
    let stop = false;
    const loop = async (socket: ClientSocket, i: number) => {
      for (let k = 0; !stop; k++) {
        const payload = text(conversation.id, `f${i}.${k}`);
        for (;;) {
          const res = await raw(socket.timeout(10_000) as typeof socket, 'message:send', payload).catch(() => undefined);
          if (res?.ok) {
            answers.ok++;
            acked.push(res.message);
            break;
          }
          if (res && !res.ok && res.error.code === 'UNAVAILABLE') answers.unavailable++;
          else answers.other.push(res ? res.error.code : 'timeout');
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 20)); // about 4 x 40 sends/s: under the send limit
      }
    };
    const loops = Promise.all(sockets.map(loop));
    await boxes[1]!.until((events) => events.length >= 20, 10_000);
    const killedAt = Date.now();
    rc.kill(victim);

    // The cluster sees the master fail; metrics name it and /readyz reports Redis until the replica took over.
    const node = cluster.nodes[0]!;
    const seen = { down: false, notReady: false };
    for (;;) {
      const metrics = await http<string>(node.url, 'GET', '/metrics');
      if (new RegExp(`redis_cluster_node_up\\{node="127.0.0.1:${victim}",role="master"\\} 0`).test(metrics.body)) seen.down = true;
      if ((await http(node.url, 'GET', '/readyz')).status === 503) seen.notReady = true;
      if (seen.down) break;
      if (Date.now() - killedAt > 15_000) throw new Error('the killed master never showed as down');
      await new Promise((r) => setTimeout(r, 100));
    }
    await rc.healthy(20_000);
    const recoveredAt = Date.now();
    const ackedBeforeRecovery = acked.length;
    while (acked.length < ackedBeforeRecovery + 40) await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await loops;
    console.info(
      `failover: ${recoveredAt - killedAt} ms to cluster_state:ok; ${answers.ok} acked, ${answers.unavailable} UNAVAILABLE answers, other: ${answers.other.length}; /readyz 503 seen: ${seen.notReady}`,
    );
    expect(seen.down).toBe(true);
    expect(answers.other).toEqual([]);
    expect((await http(node.url, 'GET', '/readyz')).status).toBe(200);

    // Every acked message is stored exactly once and reached every member live or by sync.
    const stored = (await synced(sockets[1]!, conversation.id)).filter((m) => m.kind === 'text');
    const storedIds = stored.map((m) => m.id);
    expect(new Set(storedIds).size).toBe(stored.length);
    expect(new Set(stored.map((m) => `${m.senderId}/${m.clientMsgId}`)).size).toBe(stored.length);
    for (const m of acked) expect(storedIds.filter((id) => id === m.id)).toHaveLength(1);
    expect(stored.length).toBe(acked.length);
    let live = 0;
    for (const [i, box] of boxes.entries()) {
      const seenIds = new Set([...box.byId().keys(), ...(await synced(sockets[i]!, conversation.id)).map((m) => m.id)]);
      for (const m of acked) expect(seenIds.has(m.id)).toBe(true);
      live += acked.filter((m) => box.byId().has(m.id)).length;
    }
    console.info(`failover: ${live} of ${acked.length * boxes.length} deliveries live, the rest by sync`);
    // No process exited: the worker process still runs and the gateways still serve.
    expect(worker.proc.exitCode).toBeNull();
    expect(worker.proc.signalCode).toBeNull();
    for (const n of cluster.nodes) expect((await http(n.url, 'GET', '/healthz')).status).toBe(200);
  }, 60_000);
});
