// PROTOCOL.md §7 privacy rules on two gateway nodes: receipts carry the stored watermark, and
// channels are broadcast, not chat rooms (no typing or receipts from plain members, member list
// for owners/admins/moderators only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { record } from './support/clients.js';
import { call, clientMsgId, raw } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { client } from './support/http.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
});
afterAll(async () => {
  await cluster?.close();
});

describe('receipts are facts (§7)', () => {
  it('a read or delivered receipt beyond lastSeq is broadcast as the capped stored value, on the other node', async () => {
    const a = await cluster.connect('rc-a', 0);
    const b = await cluster.connect('rc-b', 1);
    const { conversation } = await call(a, 'conversation:create', { type: 'group', title: 'receipts', memberIds: ['rc-b'] });
    let lastSeq = 0;
    for (let i = 0; i < 3; i++)
      lastSeq = (await call(a, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId(), kind: 'text', text: `m${i}` })).message.seq;
    const receipts = record(a, 'receipt');
    await call(b, 'message:read', { conversationId: conversation.id, seq: Number.MAX_SAFE_INTEGER });
    await call(b, 'message:delivered', { conversationId: conversation.id, seq: Number.MAX_SAFE_INTEGER });
    await receipts.until((items) => items.filter((r) => r.userId === 'rc-b').length >= 2);
    const fromB = receipts.items.filter((r) => r.userId === 'rc-b');
    expect(fromB.map((r) => [r.type, r.seq]).sort()).toEqual([
      ['delivered', lastSeq],
      ['read', lastSeq],
    ]);
  });
});
