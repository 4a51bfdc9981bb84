// Realtime pipeline (#4) on two gateway nodes: send → store → BullMQ job → fan-out through the
// Redis adapter, idempotent sends, membership in force before acks, sync after a disconnect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { nextEvent, record, type ClientSocket } from './support/clients.js';
import { call, clientMsgId, inbox, queueDrained, raw } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';

// Both store lanes: the default (MongoDB, on the test server or MONGO_URL) and PostgreSQL.
describe.each(['mongo', 'postgres'] as const)('on %s', (store) => {
  let cluster: Cluster;
  beforeAll(async () => {
    // 50 sends in flight on one socket at once: above the default bound on handlers in flight
    // per socket (32, which answers RATE_LIMITED beyond it; PROTOCOL.md §7).
    cluster = await startCluster({ nodes: 2, store, env: { SOCKET_MAX_IN_FLIGHT: '64' } });
  });
  afterAll(() => cluster?.close());

  const text = (conversationId: string, body: string, id = clientMsgId()) => ({ conversationId, clientMsgId: id, kind: 'text' as const, text: body });

  describe('a group spread over two nodes', () => {
    it('100 concurrent sends by two members: each acked once, received live by every device once, stored once in seq order', async () => {
      const alice0 = await cluster.connect('p-alice', 0);
      const alice1 = await cluster.connect('p-alice', 1); // second device, other node
      const bob = await cluster.connect('p-bob', 1);
      const carol = await cluster.connect('p-carol', 0);
      const { conversation } = await call(alice0, 'conversation:create', { type: 'group', title: 'trio', memberIds: ['p-bob', 'p-carol'] });
      const devices = [alice0, alice1, bob, carol].map(inbox);

      const sends = Array.from({ length: 100 }, (_, i) => {
        const from = i % 2 === 0 ? alice0 : bob;
        return raw(from, 'message:send', text(conversation.id, `msg ${i}`));
      });
      const acks = await Promise.all(sends);
      const messages = acks.map((a) => {
        expect(a.ok).toBe(true);
        return (a as { message: Message; duplicate: boolean }).message;
      });
      expect(acks.every((a) => a.ok && a.duplicate === false)).toBe(true);
      const ids = messages.map((m) => m.id);
      expect(new Set(ids).size).toBe(100);
      expect(new Set(messages.map((m) => m.seq)).size).toBe(100);

      for (const device of devices) await device.hasAll(ids);
      // A second delivery of any of them would be published before the marker's, so once the
      // marker is everywhere, every event that will ever arrive has.
      await queueDrained(cluster.env.REDIS_URL!, cluster.env.REDIS_PREFIX!);
      const marker = await call(alice0, 'message:send', text(conversation.id, 'marker'));
      for (const device of devices) await device.hasAll([marker.message.id]);
      for (const device of devices) {
        // Raw events, not the de-duplicated view: each of the 100 exactly once, nothing else.
        const userEvents = device.events.filter((e) => e.message.kind !== 'system' && e.message.id !== marker.message.id);
        expect(userEvents.map((e) => e.message.id).sort()).toEqual([...ids].sort());
      }

      // Sync from 0 returns everything in seq order (system message of creation included).
      const synced: Message[] = [];
      let after = 0;
      for (;;) {
        const page = await call(carol, 'conversation:sync', { conversationId: conversation.id, afterSeq: after, limit: 37 });
        synced.push(...page.messages);
        if (!page.hasMore) break;
        after = page.messages[page.messages.length - 1]!.seq;
      }
      const seqs = synced.map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const userSynced = synced.filter((m) => m.kind !== 'system' && m.id !== marker.message.id);
      expect(userSynced.map((m) => m.id).sort()).toEqual([...ids].sort());

      // History (store) holds each message exactly once.
      const stored = await cluster.nodes[0]!.app.messaging!.messages.history('p-carol', { conversationId: conversation.id, limit: 200 });
      expect(stored.messages.filter((m) => m.kind !== 'system' && m.id !== marker.message.id)).toHaveLength(100);
    });

    it('the same clientMsgId sent twice concurrently stores one message, one ack says duplicate, one message:new', async () => {
      const alice = await cluster.connect('d-alice', 0);
      const bob = await cluster.connect('d-bob', 1);
      const { conversation } = await call(alice, 'conversation:create', { type: 'direct', peerId: 'd-bob' });
      const bobInbox = inbox(bob);
      const payload = text(conversation.id, 'only once', clientMsgId('dup'));
      const [a, b] = await Promise.all([raw(alice, 'message:send', payload), raw(alice, 'message:send', payload)]);
      const oks = [a, b].map((r) => r as Extract<typeof r, { ok: true }>);
      expect(oks.every((r) => r.ok)).toBe(true);
      expect(oks.map((r) => r.duplicate).sort()).toEqual([false, true]);
      expect(oks[0]!.message.id).toBe(oks[1]!.message.id);

      const again = await call(alice, 'message:send', payload);
      expect(again).toMatchObject({ duplicate: true, message: { id: oks[0]!.message.id } });

      await bobInbox.hasAll([oks[0]!.message.id]);
      await queueDrained(cluster.env.REDIS_URL!, cluster.env.REDIS_PREFIX!);
      const marker = await call(alice, 'message:send', text(conversation.id, 'marker'));
      await bobInbox.hasAll([marker.message.id]);
      expect(bobInbox.count(oks[0]!.message.id)).toBe(1);

      const history = await cluster.nodes[1]!.app.messaging!.messages.history('d-bob', { conversationId: conversation.id });
      expect(history.messages.filter((m) => m.clientMsgId === payload.clientMsgId)).toHaveLength(1);
    });
  });

  describe('membership in force before the ack', () => {
    // The probe is `typing`: a direct room emit with no queue in between, sent the moment the ack
    // is in, by a member on the OTHER node than the one that made the change. A room change that
    // lands after the ack (or on that node late) makes the probe miss or reach the wrong socket.
    const typingTo = (socket: ClientSocket) => record(socket, 'typing');
    /** A round trip on `socket`: anything its node emitted to it earlier has arrived after this. */
    const settle = (socket: ClientSocket) => raw(socket, 'conversation:sync', { conversationId: 'none', afterSeq: 0 });

    it('a member added later gets the next room emit and only what is sent after joining, on any node', async () => {
      const owner = await cluster.connect('m-owner', 0);
      const peer = await cluster.connect('m-peer', 1);
      const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'late joiner', memberIds: ['m-peer'] });
      const before = await call(owner, 'message:send', text(conversation.id, 'before you came'));
      const late = await cluster.connect('m-late', 1);
      const lateInbox = inbox(late);
      const lateTyping = typingTo(late);
      const { added } = await call(owner, 'conversation:addMembers', { conversationId: conversation.id, userIds: ['m-late'] });
      await call(peer, 'typing', { conversationId: conversation.id, typing: true });
      expect(added).toEqual(['m-late']);
      await lateTyping.until((t) => t.some((x) => x.userId === 'm-peer' && x.conversationId === conversation.id));
      const after = await call(owner, 'message:send', text(conversation.id, 'welcome'));
      await lateInbox.hasAll([after.message.id]);
      expect(lateInbox.byId().has(before.message.id)).toBe(false);
      const synced = await call(late, 'conversation:sync', { conversationId: conversation.id, afterSeq: 0 });
      expect(synced.messages.map((m) => m.id)).not.toContain(before.message.id);
      expect(synced.messages.map((m) => m.id)).toContain(after.message.id);
    });

    it('a removed member misses the next room emit on both nodes, stops receiving messages and cannot send', async () => {
      const owner = await cluster.connect('r-owner', 0);
      const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'removal', memberIds: ['r-gone', 'r-stay'] });
      const gone0 = await cluster.connect('r-gone', 0);
      const gone1 = await cluster.connect('r-gone', 1);
      const stay = await cluster.connect('r-stay', 1);
      const goneInboxes = [inbox(gone0), inbox(gone1)];
      const goneTyping = [typingTo(gone0), typingTo(gone1)];
      const ownerTyping = typingTo(owner);
      const stayInbox = inbox(stay);
      await call(owner, 'conversation:removeMember', { conversationId: conversation.id, userId: 'r-gone' });
      await call(stay, 'typing', { conversationId: conversation.id, typing: true });
      // Node 0 has handled the emit once the owner has it; node 1 handled it before the ack.
      await ownerTyping.until((t) => t.some((x) => x.userId === 'r-stay'));
      for (const socket of [gone0, gone1]) await settle(socket);
      for (const t of goneTyping) expect(t.items).toEqual([]);

      const after = await call(owner, 'message:send', text(conversation.id, 'secret after removal'));
      await stayInbox.hasAll([after.message.id]);
      await queueDrained(cluster.env.REDIS_URL!, cluster.env.REDIS_PREFIX!);
      const marker = await call(owner, 'message:send', text(conversation.id, 'marker'));
      await stayInbox.hasAll([marker.message.id]);
      for (const box of goneInboxes) expect(box.byId().has(after.message.id)).toBe(false);
      const denied = await raw(gone1, 'message:send', text(conversation.id, 'let me back'));
      expect(denied).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    });

    it('a member who leaves misses the next room emit on every device, on both nodes', async () => {
      const owner = await cluster.connect('l-owner', 0);
      const { conversation } = await call(owner, 'conversation:create', { type: 'group', title: 'leaving', memberIds: ['l-leaver', 'l-stay'] });
      const leaver0 = await cluster.connect('l-leaver', 0);
      const leaver1 = await cluster.connect('l-leaver', 1);
      const stay = await cluster.connect('l-stay', 1);
      const leaverTyping = [typingTo(leaver0), typingTo(leaver1)];
      const ownerTyping = typingTo(owner);
      await call(leaver0, 'conversation:leave', { conversationId: conversation.id });
      await call(stay, 'typing', { conversationId: conversation.id, typing: true });
      await ownerTyping.until((t) => t.some((x) => x.userId === 'l-stay'));
      for (const socket of [leaver0, leaver1]) await settle(socket);
      for (const t of leaverTyping) expect(t.items).toEqual([]);
      const denied = await raw(leaver1, 'message:send', text(conversation.id, 'still here?'));
      expect(denied).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    });

    it('in a channel a plain member gets FORBIDDEN; the owner posts to everyone', async () => {
      const owner = await cluster.connect('ch-owner', 0);
      const { conversation } = await call(owner, 'conversation:create', { type: 'channel', title: 'news', public: true });
      const reader = await cluster.connect('ch-reader', 1);
      const joined = await call(reader, 'conversation:join', { conversationId: conversation.id });
      expect(joined.membership.role).toBe('member');
      const res = await raw(reader, 'message:send', text(conversation.id, 'can I post?'));
      expect(res).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      const readerInbox = inbox(reader);
      const post = await call(owner, 'message:send', text(conversation.id, 'headline'));
      await readerInbox.hasAll([post.message.id]);
    });
  });

  describe('recovery', () => {
    it('a client disconnected while 20 messages are sent gets exactly those 20 via sync', async () => {
      const alice = await cluster.connect('s-alice', 0);
      let bob = await cluster.connect('s-bob', 1);
      const { conversation } = await call(alice, 'conversation:create', { type: 'direct', peerId: 's-bob' });
      const bobInbox = inbox(bob);
      const seen = await call(alice, 'message:send', text(conversation.id, 'seen before'));
      await bobInbox.hasAll([seen.message.id]);
      const highest = seen.message.seq;
      bob.close();
      const missed: string[] = [];
      for (let i = 0; i < 20; i++) missed.push((await call(alice, 'message:send', text(conversation.id, `missed ${i}`))).message.id);
      bob = await cluster.connect('s-bob', 0);
      const synced = await call(bob, 'conversation:sync', { conversationId: conversation.id, afterSeq: highest });
      expect(synced.hasMore).toBe(false);
      expect(synced.messages.map((m) => m.id)).toEqual(missed);
    });
  });

  describe('receipts and typing', () => {
    it('watermarks only move forward and are broadcast; typing reaches others but not the sender', async () => {
      const alice = await cluster.connect('w-alice', 0);
      const bob = await cluster.connect('w-bob', 1);
      const { conversation } = await call(alice, 'conversation:create', { type: 'direct', peerId: 'w-bob' });
      const m1 = await call(alice, 'message:send', text(conversation.id, 'one'));
      const m2 = await call(alice, 'message:send', text(conversation.id, 'two'));
      const receipts = record(alice, 'receipt');
      await call(bob, 'message:read', { conversationId: conversation.id, seq: m2.message.seq });
      await receipts.until((r) => r.some((x) => x.userId === 'w-bob' && x.type === 'read' && x.seq === m2.message.seq));
      await call(bob, 'message:read', { conversationId: conversation.id, seq: m1.message.seq }); // lower: no-op
      const membership = await cluster.nodes[0]!.app.store.getMembership(conversation.id, 'w-bob');
      expect(membership?.readSeq).toBe(m2.message.seq);

      const aliceTyping = record(alice, 'typing');
      const bobTyping = nextEvent(bob, 'typing');
      await call(alice, 'typing', { conversationId: conversation.id, typing: true });
      expect(await bobTyping).toEqual({ conversationId: conversation.id, userId: 'w-alice', typing: true });
      expect(aliceTyping.items).toHaveLength(0);
    });

    it('read receipts are not shown to others when the reader turned them off', async () => {
      const alice = await cluster.connect('pr-alice', 0);
      const bob = await cluster.connect('pr-bob', 1);
      const { conversation } = await call(alice, 'conversation:create', { type: 'direct', peerId: 'pr-bob' });
      const m = await call(alice, 'message:send', text(conversation.id, 'private'));
      await cluster.nodes[1]!.app.messaging!.messages.setReadReceipts('pr-bob', false);
      const receipts = record(alice, 'receipt');
      await call(bob, 'message:read', { conversationId: conversation.id, seq: m.message.seq });
      // A later delivered receipt from the same node is the marker: a read receipt, had one been
      // emitted, would have arrived before it.
      const marker = await call(alice, 'message:send', text(conversation.id, 'marker'));
      await call(bob, 'message:delivered', { conversationId: conversation.id, seq: marker.message.seq });
      await receipts.until((r) => r.some((x) => x.type === 'delivered' && x.seq === marker.message.seq));
      expect(receipts.items.filter((x) => x.type === 'read' && x.userId === 'pr-bob')).toHaveLength(0);
      const membership = await cluster.nodes[0]!.app.store.getMembership(conversation.id, 'pr-bob');
      expect(membership?.readSeq).toBe(m.message.seq);
    });
  });
});
