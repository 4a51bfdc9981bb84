// Relay mode (RELAY_MODE=1, the benchmark's transport ceiling) on two gateway nodes: its handlers
// go through the one registration path, so they answer across nodes like the pipeline does,
// refuse bad payloads with INVALID_ARGUMENT, and survive an event sent without an ack callback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, nextEvent, record } from './support/clients.js';
import { call, clientMsgId, inbox, raw } from './support/chat.js';
import { startCluster, type Cluster } from './support/cluster.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { RELAY_MODE: '1' } });
});
afterAll(() => cluster?.close());

const text = (conversationId: string, body: string) => ({ conversationId, clientMsgId: clientMsgId('relay'), kind: 'text' as const, text: body });

describe('relay mode', () => {
  it('delivers sends and receipts across nodes to the members the conversation was created with', async () => {
    const alice = await cluster.connect('rl-alice', 0);
    const bob = await cluster.connect('rl-bob', 1);
    const { conversation } = await call(alice, 'conversation:create', { type: 'group', title: 'relay', memberIds: ['rl-bob'] });
    const bobBox = inbox(bob);

    const sent = await call(alice, 'message:send', text(conversation.id, 'over the relay'));
    expect(sent).toMatchObject({ duplicate: false, message: { conversationId: conversation.id, senderId: 'rl-alice', text: 'over the relay' } });
    await bobBox.hasAll([sent.message.id]);
    expect(bobBox.count(sent.message.id)).toBe(1);

    const receipt = nextEvent(alice, 'receipt');
    await call(bob, 'message:read', { conversationId: conversation.id, seq: sent.message.seq });
    expect(await receipt).toEqual({ conversationId: conversation.id, userId: 'rl-bob', type: 'read', seq: sent.message.seq });

    // Members added later get the room too; a relay stores nothing to sync.
    const carol = await cluster.connect('rl-carol', 1);
    expect(await call(alice, 'conversation:addMembers', { conversationId: conversation.id, userIds: ['rl-carol'] })).toEqual({ added: ['rl-carol'] });
    const carolBox = inbox(carol);
    const later = await call(bob, 'message:send', text(conversation.id, 'after the add'));
    await carolBox.hasAll([later.message.id]);
    expect(await call(carol, 'conversation:sync', { conversationId: conversation.id, afterSeq: 0 })).toEqual({ messages: [], hasMore: false });
  });

  it('numbers sends per node: another node sending does not advance this node', async () => {
    const alice = await cluster.connect('sq-alice', 0);
    const bob = await cluster.connect('sq-bob', 1);
    const { conversation } = await call(alice, 'conversation:create', { type: 'direct', peerId: 'sq-bob' });
    const first = await call(alice, 'message:send', text(conversation.id, 'one'));
    await call(bob, 'message:send', text(conversation.id, 'other node'));
    const second = await call(alice, 'message:send', text(conversation.id, 'two'));
    expect(second.message.seq).toBe(first.message.seq + 1);
  });

  it('answers bad payloads, extra arguments and unknown events with INVALID_ARGUMENT, and keeps the socket usable', async () => {
    const alice = await cluster.connect('bad-alice', 0);
    expect(await raw(alice, 'conversation:create', { type: 'group', title: '' })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', field: 'title' },
    });
    expect(await raw(alice, 'message:send', { conversationId: { $ne: null }, clientMsgId: 'x', kind: 'text', text: 'hi' })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', field: 'conversationId' },
    });
    expect(await raw(alice, 'message:read', { conversationId: 'c1', seq: -1, extra: true })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    const twoArgs = await (alice.emitWithAck as (e: string, ...a: unknown[]) => Promise<unknown>)('typing', { conversationId: 'c1', typing: true }, 'extra');
    expect(twoArgs).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    const unknown = await (alice.emitWithAck as (e: string, p: unknown) => Promise<unknown>)('message:explode', {});
    expect(unknown).toEqual({ ok: false, error: { code: 'INVALID_ARGUMENT', message: 'unknown event' } });

    const { conversation } = await call(alice, 'conversation:create', { type: 'direct', peerId: 'bad-bob' });
    await call(alice, 'message:send', text(conversation.id, 'still here'));
  });

  // On a node of its own process: a throw inside Socket.IO's dispatch would end it (the
  // uncaughtException handler drains and exits), which an in-process node would only report as a
  // stray error.
  it('an event without an ack callback changes nothing and does not crash the node', async () => {
    const node = await cluster.spawnNode();
    const alice = await connectClient(node.url, cluster.token('cb-alice'));
    const bob = await connectClient(node.url, cluster.token('cb-bob'));
    try {
      const { conversation } = await call(alice, 'conversation:create', { type: 'direct', peerId: 'cb-bob' });
      const bobNews = record(bob, 'message:new');

      // Every kind of answer the relay gives, each without a callback.
      const untyped = alice as unknown as { emit(event: string, payload: unknown): void };
      untyped.emit('message:send', text(conversation.id, 'no callback'));
      untyped.emit('message:read', { conversationId: conversation.id, seq: 1 });
      untyped.emit('conversation:create', { type: 'direct', peerId: 'cb-carol' });
      untyped.emit('conversation:sync', { conversationId: conversation.id, afterSeq: 0 });
      untyped.emit('typing', { conversationId: conversation.id, typing: true });

      // The node still answers on the same socket; the send without a callback was not relayed.
      const after = await call(alice, 'message:send', text(conversation.id, 'with callback'));
      await bobNews.until((items) => items.some((e) => e.message.id === after.message.id));
      expect(bobNews.items.map((e) => e.message.text)).toEqual(['with callback']);
      expect(node.proc.exitCode).toBeNull();
      expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    } finally {
      alice.close();
      bob.close();
    }
  }, 40_000);
});
