// The client's model without a browser: de-duplication, ordering by seq, optimistic sends
// replaced by the stored message, ticks from receipts, unread counting, changes to messages.
import { describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { Thread, applyConversationUpdate, describe as describeMessage, entryFromListItem, markRead, noteMessage, noteUpdate, titleOf } from './chat-state.js';

const T0 = Date.parse('2025-01-01T10:00:00Z');
let n = 0;
function msg(seq: number, senderId: string, extra: Partial<Message> = {}): Message {
  return {
    id: `m${seq}-${++n}`,
    conversationId: 'c1',
    seq,
    senderId,
    clientMsgId: `k${seq}`,
    kind: 'text',
    text: `text ${seq}`,
    createdAt: new Date(T0 + seq * 1000).toISOString(),
    ...extra,
  };
}

describe('Thread', () => {
  it('de-duplicates by id, orders by seq whatever the arrival order, tracks the highest seq', () => {
    const t = new Thread('c1', 'alice');
    const [a, b, c] = [msg(3, 'bob'), msg(1, 'bob'), msg(7, 'bob')];
    expect(t.add([a!, c!])).toHaveLength(2);
    expect(t.add([b!, a!, c!])).toEqual([b]);
    expect(t.items().map((i) => (i.kind === 'message' ? i.message.seq : -1))).toEqual([1, 3, 7]);
    expect(t.highestSeq).toBe(7);
    expect(t.add([{ ...msg(9, 'bob'), conversationId: 'other' }])).toEqual([]);
  });

  it('replaces an optimistic send with the stored message of the same clientMsgId', () => {
    const t = new Thread('c1', 'alice');
    t.addPending({ clientMsgId: 'k5', conversationId: 'c1', text: 'hi', createdAt: new Date().toISOString(), status: 'pending' });
    expect(t.items()).toMatchObject([{ kind: 'pending' }]);
    t.add([msg(5, 'alice', { clientMsgId: 'k5' })]);
    expect(t.pending.size).toBe(0);
    expect(t.items()).toMatchObject([{ kind: 'message', message: { seq: 5 } }]);
  });

  it('keeps failed sends and lets them be retried', () => {
    const t = new Thread('c1', 'alice');
    t.addPending({ clientMsgId: 'k1', conversationId: 'c1', text: 'x', createdAt: new Date().toISOString(), status: 'pending' });
    t.fail('k1', 'FORBIDDEN');
    expect(t.pending.get('k1')).toMatchObject({ status: 'failed', error: 'FORBIDDEN' });
    expect(t.retrying('k1')).toMatchObject({ status: 'pending' });
    expect(t.pending.get('k1')?.error).toBeUndefined();
  });

  it('ticks: sent → delivered → read from receipts, never backwards', () => {
    const t = new Thread('c1', 'alice');
    t.setMembers([
      { userId: 'alice', deliveredSeq: 0, readSeq: 0, joinedAt: new Date(T0).toISOString() },
      { userId: 'bob', deliveredSeq: 0, readSeq: 0, joinedAt: new Date(T0).toISOString() },
    ]);
    const m = msg(4, 'alice');
    t.add([m]);
    expect(t.tick(m, 'direct')).toBe('sent');
    expect(t.receipt({ conversationId: 'c1', userId: 'bob', type: 'delivered', seq: 4 })).toBe(true);
    expect(t.tick(m, 'direct')).toBe('delivered');
    t.receipt({ conversationId: 'c1', userId: 'bob', type: 'read', seq: 9 });
    expect(t.tick(m, 'direct')).toBe('read');
    expect(t.receipt({ conversationId: 'c1', userId: 'bob', type: 'delivered', seq: 2 })).toBe(false);
    expect(t.tick(m, 'direct')).toBe('read');
    // A reply moves the sender's watermarks too (the server sends no receipt for it).
    const m2 = msg(12, 'alice');
    t.add([m2]);
    expect(t.tick(m2, 'direct')).toBe('sent');
    t.add([msg(13, 'bob')]);
    expect(t.tick(m2, 'direct')).toBe('read');
    // My own receipts (other devices) never count.
    expect(t.receipt({ conversationId: 'c1', userId: 'alice', type: 'read', seq: 9 })).toBe(false);
  });

  it('in a group, delivered/read needs every member who was there when it was sent; channels show sent', () => {
    const t = new Thread('c1', 'alice');
    const early = new Date(T0).toISOString();
    t.setMembers([
      { userId: 'bob', deliveredSeq: 10, readSeq: 10, joinedAt: early },
      { userId: 'carol', deliveredSeq: 10, joinedAt: early }, // read receipts off: readSeq hidden
    ]);
    const m = msg(5, 'alice');
    expect(t.tick(m, 'group')).toBe('delivered');
    t.receipt({ conversationId: 'c1', userId: 'carol', type: 'read', seq: 5 });
    expect(t.tick(m, 'group')).toBe('read');
    t.memberJoined('dave', T0 + 60_000); // joined after the message: does not hold it back
    expect(t.tick(m, 'group')).toBe('read');
    expect(t.tick(m, 'channel')).toBe('sent');
  });
});

describe('changes to messages (edits, deletions, reactions)', () => {
  it('keeps the state with the highest updatedSeq, from live updates and from history or sync alike', () => {
    const t = new Thread('c1', 'alice');
    const m = msg(3, 'bob');
    t.add([m]);
    const edited = { ...m, text: 'new', editedAt: m.createdAt, updatedSeq: 5 };
    expect(t.update(edited)).toBe(true);
    expect(t.update(edited)).toBe(false); // repeated
    expect(t.update({ ...m, text: 'older', updatedSeq: 4 })).toBe(false); // late
    expect(t.add([{ ...m, updatedSeq: 4 }])).toEqual([]);
    expect(t.messages.get(m.id)?.text).toBe('new');
    // A page (history, sync) with a newer state replaces it, without counting as a new message.
    expect(t.add([{ ...m, reactions: [{ emoji: '👍', count: 1 }], updatedSeq: 6 }])).toEqual([]);
    expect(t.messages.get(m.id)?.reactions).toEqual([{ emoji: '👍', count: 1 }]);
    expect(t.update(msg(9, 'bob', { updatedSeq: 10 }))).toBe(false); // unknown message: not added
    expect(t.items()).toHaveLength(1);
  });

  it('remembers my reactions until the message is deleted', () => {
    const t = new Thread('c1', 'alice');
    const m = msg(3, 'bob');
    t.add([m]);
    t.setReacted(m.id, '👍', true);
    t.setReacted(m.id, '🎉', true);
    t.setReacted(m.id, '🎉', false);
    expect([t.hasReacted(m.id, '👍'), t.hasReacted(m.id, '🎉')]).toEqual([true, false]);
    t.update({ ...m, reactions: [{ emoji: '👍', count: 2 }], updatedSeq: 5 });
    expect(t.hasReacted(m.id, '👍')).toBe(true);
    t.setReacted(m.id, '❤️', true);
    // Nobody holds ❤️ any more: taken off on another device.
    t.update({ ...m, reactions: [{ emoji: '👍', count: 2 }], updatedSeq: 6 });
    expect(t.hasReacted(m.id, '❤️')).toBe(false);
    const { text: _gone, ...rest } = m;
    t.update({ ...rest, deletedAt: m.createdAt, updatedSeq: 7 });
    expect(t.hasReacted(m.id, '👍')).toBe(false);
    expect(describeMessage(t.messages.get(m.id)!, 'alice')).toBe('message deleted');
  });

  it('the list preview follows a change of the last message only', () => {
    const e = entryFromListItem({ id: 'c1', type: 'direct', createdBy: 'bob', createdAt: new Date(T0).toISOString(), lastSeq: 3, public: false, role: 'member', unread: 0 });
    const last = msg(3, 'bob');
    noteMessage(e, last, 'alice', false);
    expect(noteUpdate(e, msg(2, 'bob', { updatedSeq: 4 }))).toBe(false);
    expect(noteUpdate(e, { ...last, deletedAt: last.createdAt, updatedSeq: 5 })).toBe(true);
    expect(e.unread).toBe(0);
    expect(describeMessage(e.lastMessage!, 'alice')).toBe('message deleted');
  });
});

describe('list entries', () => {
  const conversation = { id: 'c1', type: 'direct' as const, createdBy: 'bob', createdAt: new Date(T0).toISOString(), lastSeq: 3, public: false };

  it('counts someone else’s visible messages past my read watermark, unless I am reading', () => {
    const e = entryFromListItem({ ...conversation, role: 'member', unread: 0 });
    expect(e.readSeq).toBe(3);
    expect(noteMessage(e, msg(2, 'bob'), 'alice', false)).toBe(false); // already read
    expect(noteMessage(e, msg(4, 'bob'), 'alice', false)).toBe(true);
    expect(noteMessage(e, msg(5, 'alice'), 'alice', false)).toBe(false); // mine
    expect(noteMessage(e, msg(6, 'bob', { kind: 'system' }), 'alice', false)).toBe(false);
    expect(noteMessage(e, msg(7, 'bob'), 'alice', true)).toBe(false); // open and visible
    expect(e.unread).toBe(1);
    expect(e.conversation.lastSeq).toBe(7);
    expect(e.lastMessage?.seq).toBe(7);
    markRead(e, 7);
    expect(e.unread).toBe(0);
  });

  it('does not count twice a message the list already counted (live event after the fetch)', () => {
    const e = entryFromListItem({ ...conversation, lastSeq: 5, role: 'member', unread: 1 });
    expect(noteMessage(e, msg(5, 'bob'), 'alice', false)).toBe(false);
    expect(e.unread).toBe(1);
    expect(noteMessage(e, msg(7, 'bob'), 'alice', false)).toBe(true);
    expect(noteMessage(e, msg(6, 'bob'), 'alice', false)).toBe(true); // out of order, still new
    expect(e.unread).toBe(3);
  });
});

describe('conversation:updated', () => {
  const at = new Date(T0).toISOString();
  const group = { id: 'c1', type: 'group' as const, title: 'team', createdBy: 'bob', createdAt: at, lastSeq: 1, public: false };

  it('adds a conversation new to me, tracks members of a loaded thread, removes it when I leave', () => {
    const entries = new Map();
    const threads = new Map([['c1', new Thread('c1', 'alice')]]);
    expect(applyConversationUpdate(entries, threads, { conversation: group, change: { action: 'created', userIds: ['bob', 'alice'] } }, 'alice')).toBe('added');
    expect(entries.get('c1')).toMatchObject({ role: 'member', unread: 0 });
    expect(applyConversationUpdate(entries, threads, { conversation: { ...group, lastSeq: 2 }, change: { action: 'joined', userIds: ['carol'] } }, 'alice')).toBe('updated');
    expect(threads.get('c1')!.others.has('carol')).toBe(true);
    expect(entries.get('c1').conversation.lastSeq).toBe(2);
    expect(applyConversationUpdate(entries, threads, { conversation: group, change: { action: 'role', userIds: ['alice'] } }, 'alice')).toBe('role');
    expect(entries.get('c1').conversation.lastSeq).toBe(2); // never backwards
    expect(applyConversationUpdate(entries, threads, { conversation: group, change: { action: 'removed', userIds: ['alice'] } }, 'alice')).toBe('removed');
    expect(entries.has('c1')).toBe(false);
    expect(threads.has('c1')).toBe(false);
  });

  it('names a new direct conversation after the other member', () => {
    const entries = new Map();
    const direct = { ...group, type: 'direct' as const, title: undefined };
    applyConversationUpdate(entries, new Map(), { conversation: direct, change: { action: 'created', userIds: ['bob', 'alice'] } }, 'alice');
    expect(titleOf(entries.get('c1'))).toBe('bob');
  });
});
