// SOCKET_ADAPTER=sharded: two gateway nodes on one Redis (>= 7) that broadcast through sharded
// pub/sub (SPUBLISH to a channel per room) instead of the classic adapter's one channel. The
// whole pipeline runs (store, queue, worker), so a send acked on one node reaches members on the
// other through the room's shard channel; membership changes move rooms across nodes too.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextEvent } from './support/clients.js';
import { call, clientMsgId, inbox } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';

let cluster: Cluster;
let redis: Redis;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { SOCKET_ADAPTER: 'sharded' } });
  redis = new Redis(cluster.env.REDIS_URL!);
});
afterAll(async () => {
  await redis?.quit();
  await cluster?.close();
});

const text = (conversationId: string, body: string) => ({ conversationId, clientMsgId: clientMsgId('shard'), kind: 'text' as const, text: body });

/** Shard channels of this cluster's adapter that some node subscribes to right now. */
async function shardChannels(): Promise<string[]> {
  return (await redis.call('PUBSUB', 'SHARDCHANNELS', `${cluster.env.REDIS_PREFIX}:sio*`)) as string[];
}

describe('sharded adapter', () => {
  it('broadcasts through per-room shard channels, not the classic channel', async () => {
    const alice = await cluster.connect('sh-alice', 0);
    const { conversation } = await call(alice, 'conversation:create', { type: 'direct', peerId: 'sh-bob' });
    const channels = await shardChannels();
    expect(channels.some((c) => c.includes(`c:${conversation.id}`))).toBe(true);
    const classic = (await redis.call('PUBSUB', 'CHANNELS', `${cluster.env.REDIS_PREFIX}:sio*`)) as string[];
    expect(classic).toEqual([]);
  });

  it('delivers sends and receipts both ways between members on different nodes', async () => {
    const alice = await cluster.connect('sx-alice', 0);
    const bob = await cluster.connect('sx-bob', 1);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'sharded', memberIds: ['sx-bob'] });
    const aliceBox = inbox(alice);
    const bobBox = inbox(bob);

    const fromAlice = await call(alice, 'message:send', text(conversation.id, 'from node 0'));
    await bobBox.hasAll([fromAlice.message.id]);
    expect(bobBox.byId().get(fromAlice.message.id)).toEqual(fromAlice.message);
    // A receipt from node 1 reaches the sender on node 0.
    const receipt = nextEvent(alice, 'receipt');
    await call(bob, 'message:delivered', { conversationId: conversation.id, seq: fromAlice.message.seq });
    expect(await receipt).toEqual({ conversationId: conversation.id, userId: 'sx-bob', type: 'delivered', seq: fromAlice.message.seq });

    const fromBob = await call(bob, 'message:send', text(conversation.id, 'from node 1'));
    await aliceBox.hasAll([fromBob.message.id]);
    expect(aliceBox.byId().get(fromBob.message.id)).toEqual(fromBob.message);
    await bobBox.hasAll([fromBob.message.id]);
  });

  it('a member added on one node receives the next message on the other, a removed one does not', async () => {
    const alice = await cluster.connect('sm-alice', 0);
    const carol = await cluster.connect('sm-carol', 1);
    const dave = await cluster.connect('sm-dave', 1);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'moves', memberIds: ['sm-dave'] });
    await call(alice, 'conversation:addMembers', { conversationId: conversation.id, userIds: ['sm-carol'] });
    await call(alice, 'conversation:removeMember', { conversationId: conversation.id, userId: 'sm-dave' });
    const carolBox = inbox(carol);
    const daveBox = inbox(dave);

    const sent = await call(alice, 'message:send', text(conversation.id, 'after the changes'));
    await carolBox.hasAll([sent.message.id]);
    // Dave's socket shares carol's node and the room's channel: once carol has it, dave would too.
    const marker = await call(alice, 'message:send', text(conversation.id, 'marker'));
    await carolBox.hasAll([marker.message.id]);
    expect(daveBox.byId().has(sent.message.id)).toBe(false);
    expect(daveBox.byId().has(marker.message.id)).toBe(false);
  });
});

describe('sharded adapter with a worker-only node (one Redis)', () => {
  it('the worker publishes on the room shard channels: members on two gateway-only nodes get every message', async () => {
    const split = await startCluster({ roles: ['gateway', 'gateway', 'worker'], env: { SOCKET_ADAPTER: 'sharded' } });
    try {
      const alice = await split.connect('sw-alice', 0);
      const bob = await split.connect('sw-bob', 1);
      const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'worker', memberIds: ['sw-bob'] });
      const [aliceBox, bobBox] = [inbox(alice), inbox(bob)];
      const sent = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 ? bob : alice, 'message:send', text(conversation.id, `w${i}`))));
      const ids = sent.map((s) => s.message.id);
      await Promise.all([aliceBox.hasAll(ids), bobBox.hasAll(ids)]);
      expect([...bobBox.byId().values()].filter((m) => m.kind === 'text')).toHaveLength(10);
    } finally {
      await split.close();
    }
  });
});
