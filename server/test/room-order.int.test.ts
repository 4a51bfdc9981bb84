// PROTOCOL.md §7: rooms joined at connect are the user's most recently active conversations
// first. With MAX_ROOMS_PER_SOCKET=3 a user in five conversations gets live messages of the
// three most recently active, on either node, and none of the other two (sync serves those).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inbox, call, clientMsgId } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { MAX_ROOMS_PER_SOCKET: '3' } });
});
afterAll(async () => {
  await cluster?.close();
});

describe('rooms at connect (§7)', () => {
  it('a user over the room cap is subscribed to the most recently active conversations, not the oldest', async () => {
    const peer = await cluster.connect('ro-peer', 0);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call(peer, 'conversation:create', { type: 'group', title: `c${i}`, memberIds: ['ro-user'] })).conversation.id);
    const send = (i: number) => call(peer, 'message:send', { conversationId: ids[i]!, clientMsgId: clientMsgId('ro'), kind: 'text', text: `to c${i}` });
    // Most recently active now: c1, c0, c4; c3 and c2 are the oldest.
    await send(0);
    await send(1);
    const user = await cluster.connect('ro-user', 1);
    const news = inbox(user);
    const peerNews = inbox(peer);
    // The oldest first: the peer's own copy proves the room emit went out before the next send.
    const old = await send(2);
    await peerNews.hasAll([old.message.id]);
    const live = [await send(4), await send(0), await send(1)];
    await news.hasAll(live.map((s) => s.message.id));
    expect([...news.byId().values()].map((m) => m.text).sort()).toEqual(['to c0', 'to c1', 'to c4']);
    // The rest still reach the user by sync.
    expect((await call(user, 'conversation:sync', { conversationId: ids[2]!, afterSeq: 0 })).messages.map((m) => m.text)).toContain('to c2');
  });
});
