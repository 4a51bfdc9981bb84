// Contract of the store port, part two: catching up (`conversation:sync`, REST `after` pages)
// across seq gaps. Run by storeContract inside its describe block, on the same store.
// The messaging service turns an ascending page into `hasMore` by asking for limit + 1, and a
// client syncs "after the highest seq I have" until hasMore is false. So an ascending page must
// never end before a message that is stored, whatever gaps lie in between: a client would then
// report itself caught up and miss that message until its next reconnect (#14 item 1).
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { NotFoundStoreError, type NewMessage, type Store } from './store.js';

/** A well-formed id (an ObjectId on MongoDB) that names no conversation. */
const MISSING_CONVERSATION = '0123456789abcdef01234567';
const OPEN = [{ afterSeq: 0, untilSeq: null }];

export function syncCases(getStore: () => Store): void {
  describe('sync across seq gaps', () => {
    let store: Store;
    beforeEach(() => {
      store = getStore();
    });

    const user = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
    const text = (conversationId: string, senderId: string, clientMsgId: string): NewMessage => ({ conversationId, senderId, clientMsgId, kind: 'text', text: clientMsgId });

    async function group(owner: string): Promise<string> {
      const { conversation } = await store.createConversation({ type: 'group', createdBy: owner, public: false, members: [{ userId: owner, role: 'owner' }] });
      return conversation.id;
    }

    /** What the messaging service and a client do: pages of `limit` (asking limit + 1) until hasMore is false. */
    async function syncAll(conversationId: string, after: number, limit: number): Promise<Message[]> {
      const seen: Message[] = [];
      for (let guard = 0; guard < 100; guard++) {
        const page = await store.pageMessages({ conversationId, periods: OPEN, after, limit: limit + 1 });
        const messages = page.slice(0, limit);
        seen.push(...messages);
        if (page.length <= limit) return seen; // hasMore: false — the client believes it is caught up
        after = messages.at(-1)!.seq;
      }
      throw new Error('sync did not end');
    }

    it('a gap that stays open never makes sync report caught-up while a later message exists', async () => {
      const a = user('a');
      const conv = await group(a);
      const first = (await store.appendMessage(text(conv, a, 'before-gap'))).message;
      // Seqs an adapter may reserve and never fill: a batch that fails after reserving (it names
      // a missing conversation), and concurrent repeats of one clientMsgId that lose the race.
      await expect(store.appendMessages([text(conv, a, 'lost-1'), text(conv, a, 'lost-2'), text(MISSING_CONVERSATION, a, 'x')])).rejects.toBeInstanceOf(NotFoundStoreError);
      await Promise.all(Array.from({ length: 6 }, () => store.appendMessage(text(conv, a, 'repeat'))));
      const last = (await store.appendMessage(text(conv, a, 'after-gap'))).message;

      for (const limit of [1, 2, 50]) {
        const seen = await syncAll(conv, first.seq, limit);
        expect(seen.map((m) => m.clientMsgId), `limit ${limit}`).toEqual(['repeat', 'after-gap']);
        expect(seen.at(-1)).toEqual(last);
      }
      // Asked again from right before the last message, and from its own seq.
      expect((await store.pageMessages({ conversationId: conv, periods: OPEN, after: last.seq - 1, limit: 2 })).map((m) => m.id)).toEqual([last.id]);
      expect(await store.pageMessages({ conversationId: conv, periods: OPEN, after: last.seq, limit: 2 })).toEqual([]);
      // Newest first sees the same messages, and the gaps stay invisible everywhere.
      const newest = await store.pageMessages({ conversationId: conv, periods: OPEN, limit: 50 });
      expect(newest.map((m) => m.clientMsgId)).toEqual(['after-gap', 'repeat', 'before-gap']);
      const [summary] = (await store.listConversations(a, { limit: 1 })).items;
      expect(summary?.lastMessage).toEqual(last);
    });

    it('a reader syncing while appends run sees every message exactly once', async () => {
      const a = user('a');
      const conv = await group(a);
      let writing = true;
      const writes = Promise.all(Array.from({ length: 24 }, (_, i) => store.appendMessage(text(conv, a, `live-${i}`)))).finally(() => {
        writing = false;
      });
      const seen = new Map<string, Message>();
      let after = 0;
      // Poll while the writes run, then once more after they all finished.
      for (let more = true; more; ) {
        const last = !writing;
        const page = await store.pageMessages({ conversationId: conv, periods: OPEN, after, limit: 5 });
        for (const m of page) {
          expect(seen.has(m.id), `seq ${m.seq} returned twice`).toBe(false);
          expect(m.seq).toBeGreaterThan(after);
          seen.set(m.id, m);
        }
        if (page.length) after = page.at(-1)!.seq;
        more = page.length > 0 || !last;
      }
      const written = (await writes).map((r) => r.message.id);
      expect([...seen.keys()].sort()).toEqual([...written].sort());
    });
  });
}
