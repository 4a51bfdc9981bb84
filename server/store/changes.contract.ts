// Contract of the store port, part three: edits, deletions and reactions (PROTOCOL.md §9).
// Run by storeContract inside its describe block, on the same store, so both adapters must
// agree: a change takes the next seq as `updatedSeq`, a no-op takes none, a deletion leaves no
// text or attachment anywhere a reader can reach, and concurrent reactions end exact.
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from './store.js';

const OPEN = [{ afterSeq: 0, untilSeq: null }];

export function changeCases(getStore: () => Store): void {
  describe('message changes', () => {
    let store: Store;
    beforeEach(() => {
      store = getStore();
    });

    const user = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

    async function group(owner: string, others: string[] = []) {
      const members = [{ userId: owner, role: 'owner' as const }, ...others.map((userId) => ({ userId, role: 'member' as const }))];
      const { conversation } = await store.createConversation({ type: 'group', title: 't', createdBy: owner, public: false, members });
      return conversation.id;
    }

    it('an edit takes the next seq as updatedSeq; the same text again is a no-op that takes none', async () => {
      const a = user('a');
      const conv = await group(a);
      const { message } = await store.appendMessage({ conversationId: conv, senderId: a, clientMsgId: 'm1', kind: 'text', text: 'first' });
      const edited = await store.changeMessage({ conversationId: conv, messageId: message.id, type: 'edit', text: 'second' });
      expect(edited).toMatchObject({ changed: true, message: { id: message.id, seq: message.seq, text: 'second', updatedSeq: message.seq + 1 } });
      expect(edited!.message.editedAt).toBeDefined();
      const again = await store.changeMessage({ conversationId: conv, messageId: message.id, type: 'edit', text: 'second' });
      expect(again).toMatchObject({ changed: false, message: { text: 'second', updatedSeq: message.seq + 1 } });
      const next = await store.appendMessage({ conversationId: conv, senderId: a, clientMsgId: 'm2', kind: 'text', text: 'x' });
      expect(next.message.seq).toBe(message.seq + 2);
      expect((await store.getConversation(conv))!.lastSeq).toBe(message.seq + 2);
      expect(await store.getMessage(message.id)).toEqual(edited!.message);
    });

    it('a deletion removes text and attachment for good, from every read, and takes no further change', async () => {
      const a = user('a');
      const conv = await group(a);
      const attachment = { url: 'https://files.example/a.pdf', name: 'a.pdf', size: 10, mime: 'application/pdf' };
      const { message } = await store.appendMessage({ conversationId: conv, senderId: a, clientMsgId: 'f1', kind: 'file', attachment });
      await store.changeMessage({ conversationId: conv, messageId: message.id, type: 'react', userId: a, emoji: '👍', on: true });
      const deleted = await store.changeMessage({ conversationId: conv, messageId: message.id, type: 'delete' });
      expect(deleted!.changed).toBe(true);
      const gone = deleted!.message;
      expect(gone).toMatchObject({ id: message.id, seq: message.seq, senderId: a, createdAt: message.createdAt });
      expect(gone.deletedAt).toBeDefined();
      expect(gone).not.toHaveProperty('text');
      expect(gone).not.toHaveProperty('attachment');
      expect(gone).not.toHaveProperty('reactions');
      for (const later of [
        { type: 'delete' as const },
        { type: 'edit' as const, text: 'back' },
        { type: 'react' as const, userId: a, emoji: '👍', on: true },
      ]) {
        expect(await store.changeMessage({ conversationId: conv, messageId: message.id, ...later })).toMatchObject({ changed: false });
      }
      const reads = [
        await store.getMessage(message.id),
        (await store.pageMessages({ conversationId: conv, periods: OPEN, limit: 10 }))[0],
        (await store.pageChanges({ conversationId: conv, userId: a, after: 0, limit: 10 }))[0],
        (await store.listConversations(a, { limit: 10 })).items.find((s) => s.conversation.id === conv)?.lastMessage,
        (await store.appendMessage({ conversationId: conv, senderId: a, clientMsgId: 'f1', kind: 'file', attachment })).message,
      ];
      for (const read of reads) expect(read).toEqual(gone);
      expect(JSON.stringify(reads)).not.toContain('a.pdf');
    });

    it('reactions: one per member and emoji, counts exact under concurrent toggles', async () => {
      const owner = user('o');
      const members = Array.from({ length: 10 }, (_, i) => user(`m${i}`));
      const conv = await group(owner, members);
      const { message } = await store.appendMessage({ conversationId: conv, senderId: owner, clientMsgId: 'r1', kind: 'text', text: 'react' });
      // 20 toggles: every member turns it on twice at once (one of each pair a no-op).
      const results = await Promise.all(
        [...members, ...members].map((userId) => store.changeMessage({ conversationId: conv, messageId: message.id, type: 'react', userId, emoji: '🎉', on: true })),
      );
      expect(results.filter((r) => r!.changed)).toHaveLength(10);
      await Promise.all(members.slice(0, 3).map((userId) => store.changeMessage({ conversationId: conv, messageId: message.id, type: 'react', userId, emoji: '🎉', on: false })));
      const current = await store.getMessage(message.id);
      expect(current!.reactions).toEqual([{ emoji: '🎉', count: 7 }]);
      expect(current!.updatedSeq).toBe((await store.getConversation(conv))!.lastSeq);
      const off = await store.changeMessage({ conversationId: conv, messageId: message.id, type: 'react', userId: members[0]!, emoji: '🎉', on: false });
      expect(off!.changed).toBe(false);
    });

    it('pageChanges returns changed messages after a seq, by updatedSeq, only inside the reader\'s periods', async () => {
      const [a, b] = [user('a'), user('b')];
      const conv = await group(a, [b]);
      const send = async (id: string) => (await store.appendMessage({ conversationId: conv, senderId: a, clientMsgId: id, kind: 'text', text: id })).message;
      // b sees c1 and c2, leaves, misses c3, rejoins twice with nothing between, sees c4.
      const m = [await send('c1'), await send('c2')];
      await store.removeMember(conv, b);
      m.push(await send('c3'));
      await store.addMembers(conv, [{ userId: b, role: 'member' }]);
      await store.removeMember(conv, b);
      await store.addMembers(conv, [{ userId: b, role: 'member' }]);
      m.push(await send('c4'));
      const edit = (i: number) => store.changeMessage({ conversationId: conv, messageId: m[i]!.id, type: 'edit', text: `${i}!` });
      const e3 = await edit(2);
      const e1 = await edit(0);
      const e4 = await edit(3);
      const ids = (ms: { id: string }[]) => ms.map((x) => x.id);
      expect(ids(await store.pageChanges({ conversationId: conv, userId: a, after: 0, limit: 10 }))).toEqual([m[2]!.id, m[0]!.id, m[3]!.id]);
      expect(await store.pageChanges({ conversationId: conv, userId: a, after: e3!.message.updatedSeq!, limit: 1 })).toEqual([e1!.message]);
      expect(ids(await store.pageChanges({ conversationId: conv, userId: b, after: 0, limit: 10 }))).toEqual([m[0]!.id, m[3]!.id]);
      expect(await store.pageChanges({ conversationId: conv, userId: b, after: 0, limit: 1 })).toEqual([e1!.message]);
      expect(await store.pageChanges({ conversationId: conv, userId: b, after: e1!.message.updatedSeq!, limit: 10 })).toEqual([e4!.message]);
      expect(await store.pageChanges({ conversationId: conv, userId: user('never'), after: 0, limit: 10 })).toEqual([]);
    });

    it('a message of another conversation, or no message, is null', async () => {
      const a = user('a');
      const conv = await group(a);
      const other = await group(a);
      const { message } = await store.appendMessage({ conversationId: other, senderId: a, clientMsgId: 'x', kind: 'text', text: 'x' });
      expect(await store.changeMessage({ conversationId: conv, messageId: message.id, type: 'delete' })).toBeNull();
      expect(await store.getMessage(message.id)).toEqual(message);
    });
  });
}
