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

describe('channels are broadcast, not chat rooms (§7)', () => {
  it('plain members may not type, their receipts are stored but never broadcast, and they may not list members', async () => {
    const owner = await cluster.connect('ch-owner', 0);
    const mod = await cluster.connect('ch-mod', 1);
    const m1 = await cluster.connect('ch-m1', 0);
    const m2 = await cluster.connect('ch-m2', 1);
    const { conversation } = await call(owner, 'conversation:create', { type: 'channel', title: 'news', memberIds: ['ch-mod', 'ch-m1', 'ch-m2'] });
    const conversationId = conversation.id;
    await call(owner, 'conversation:setRole', { conversationId, userId: 'ch-mod', role: 'moderator' });
    const { message } = await call(owner, 'message:send', { conversationId, clientMsgId: clientMsgId(), kind: 'text', text: 'post' });
    const sockets = { owner, mod, m1, m2 };
    const typing = Object.fromEntries(Object.entries(sockets).map(([k, s]) => [k, record(s, 'typing')]));
    const receipts = Object.fromEntries(Object.entries(sockets).map(([k, s]) => [k, record(s, 'receipt')]));

    // typing: FORBIDDEN for members, allowed for the moderator.
    for (const m of [m1, m2]) {
      const res = await raw(m, 'typing', { conversationId, typing: true });
      expect(res.ok ? 'ok' : res.error.code).toBe('FORBIDDEN');
    }
    await call(mod, 'typing', { conversationId, typing: true });
    // receipts: members' stored, not broadcast; the moderator's broadcast (the marker below).
    for (const m of [m1, m2]) {
      await call(m, 'message:delivered', { conversationId, seq: message.seq });
      await call(m, 'message:read', { conversationId, seq: message.seq });
    }
    await call(mod, 'message:read', { conversationId, seq: message.seq });
    for (const k of ['owner', 'm1', 'm2'] as const) {
      await typing[k]!.until((items) => items.some((t) => t.userId === 'ch-mod'));
      await receipts[k]!.until((items) => items.some((r) => r.userId === 'ch-mod' && r.type === 'read'));
    }
    const fromMembers = (items: { userId: string }[]) => items.filter((e) => e.userId === 'ch-m1' || e.userId === 'ch-m2').length;
    expect(Object.values(typing).map((r) => fromMembers(r.items))).toEqual([0, 0, 0, 0]);
    expect(Object.values(receipts).map((r) => fromMembers(r.items))).toEqual([0, 0, 0, 0]);
    // Stored all the same: each member's own view shows the read position.
    const m1Rest = client(cluster.nodes[1]!.url, cluster.token('ch-m1'));
    expect((await m1Rest.get(`/v1/conversations/${conversationId}`)).body.membership).toMatchObject({ readSeq: message.seq, deliveredSeq: message.seq });

    // The member list: 403 for members, on either node; the full list for staff.
    for (const node of cluster.nodes) {
      const res = await client(node.url, cluster.token('ch-m2')).get(`/v1/conversations/${conversationId}/members`);
      expect(res.status).toBe(403);
    }
    const staff = await client(cluster.nodes[0]!.url, cluster.token('ch-mod')).get(`/v1/conversations/${conversationId}/members`);
    expect(staff.status).toBe(200);
    expect(staff.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual(['ch-m1', 'ch-m2', 'ch-mod', 'ch-owner']);
  });

  it('in a group, plain members still type and broadcast receipts (the channel rule does not leak into groups)', async () => {
    const a = await cluster.connect('gr-a', 0);
    const b = await cluster.connect('gr-b', 1);
    const { conversation } = await call(a, 'conversation:create', { type: 'group', title: 'chat', memberIds: ['gr-b'] });
    const { message } = await call(a, 'message:send', { conversationId: conversation.id, clientMsgId: clientMsgId(), kind: 'text', text: 'hi' });
    const typing = record(a, 'typing');
    const receipts = record(a, 'receipt');
    await call(b, 'typing', { conversationId: conversation.id, typing: true });
    await call(b, 'message:read', { conversationId: conversation.id, seq: message.seq });
    await typing.until((items) => items.some((t) => t.userId === 'gr-b'));
    await receipts.until((items) => items.some((r) => r.userId === 'gr-b'));
    expect((await client(cluster.nodes[0]!.url, cluster.token('gr-b')).get(`/v1/conversations/${conversation.id}/members`)).status).toBe(200);
  });
});
