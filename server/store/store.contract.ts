// The one behavioural contract of the store port (store.ts). Every adapter runs it from its own
// *.int.test.ts against a real, empty database:
//   storeContract('postgres', async () => ({ store, cleanup }));
// The suite calls `init()` itself. Each test makes its own users and conversations, so tests
// are independent of each other and of order. Data stays small (a few hundred messages in all)
// because the MongoDB lane may run against a slow test server.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation, Message, Role } from '../../protocol/index.js';
import { encodeCursor } from './shared.js';
import { boundsCases } from './bounds.contract.js';
import { cyclesCase, type SeedCycles } from './cycles.contract.js';
import { changeCases } from './changes.contract.js';
import { membershipOrderCases } from './membership-order.contract.js';
import { syncCases } from './sync.contract.js';
import {
  InvalidArgumentStoreError,
  NotFoundStoreError,
  type NewMessage,
  type Period,
  type Store,
} from './store.js';

type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void>; seedCycles: SeedCycles }>;

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MALFORMED_CURSORS = ['', '%%%', encodeCursor({ bogus: true }), encodeCursor(['a', 'b', 'c'])];

export function storeContract(name: string, makeStore: MakeStore): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, cleanup } = await makeStore());
      await store.init();
    });
    afterAll(async () => {
      await cleanup?.();
    });

    /** User ids unique to one test, so tests never see each other's conversations. */
    function users(...labels: string[]): string[] {
      const suffix = randomBytes(4).toString('hex');
      return labels.map((l) => `${l}-${suffix}`);
    }

    async function group(owner: string, members: string[] = [], opts: { title?: string; public?: boolean } = {}): Promise<Conversation> {
      const { conversation } = await store.createConversation({
        type: 'group',
        title: opts.title ?? 'test group',
        createdBy: owner,
        public: opts.public ?? false,
        members: [{ userId: owner, role: 'owner' }, ...members.map((userId) => ({ userId, role: 'member' as Role }))],
      });
      return conversation;
    }

    function text(conversationId: string, senderId: string, clientMsgId: string, body = clientMsgId): NewMessage {
      return { conversationId, senderId, clientMsgId, kind: 'text', text: body };
    }

    async function post(conversationId: string, senderId: string, count: number): Promise<Message[]> {
      const out: Message[] = [];
      for (let i = 0; i < count; i++) {
        out.push((await store.appendMessage(text(conversationId, senderId, `m${randomBytes(6).toString('hex')}`))).message);
      }
      return out;
    }

    /** Seqs of what is stored and visible, oldest first (read newest first: one query, no gap work). */
    async function seqsVisible(conversationId: string, periods: Period[]): Promise<number[]> {
      return (await store.pageMessages({ conversationId, periods, limit: 200 })).map((m) => m.seq).reverse();
    }

    describe('lifecycle', () => {
      it('init is idempotent and ping answers', async () => {
        await store.init();
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('conversations', () => {
      it('creates a group with its members at joinedSeq 0, ignoring repeated members', async () => {
        const [a, b, c] = users('a', 'b', 'c');
        const { conversation, created } = await store.createConversation({
          type: 'group',
          title: 'Team',
          createdBy: a!,
          public: true,
          members: [
            { userId: a!, role: 'owner' },
            { userId: b!, role: 'member' },
            { userId: b!, role: 'admin' },
            { userId: c!, role: 'moderator' },
          ],
        });
        expect(created).toBe(true);
        expect(conversation).toMatchObject({ type: 'group', title: 'Team', createdBy: a, public: true, lastSeq: 0 });
        expect(conversation.id).toMatch(ID);
        expect(new Date(conversation.createdAt).toISOString()).toBe(conversation.createdAt);
        expect(await store.getConversation(conversation.id)).toEqual(conversation);
        expect(await store.countMembers(conversation.id)).toBe(3);
        const mb = await store.getMembership(conversation.id, b!);
        expect(mb).toMatchObject({ conversationId: conversation.id, userId: b, role: 'member', joinedSeq: 0, deliveredSeq: 0, readSeq: 0 });
        expect(mb?.leftSeq).toBeUndefined();
        expect((await store.getMembership(conversation.id, c!))?.role).toBe('moderator');
      });

      it('returns null for an unknown conversation id', async () => {
        expect(await store.getConversation('doesnotexist0000')).toBeNull();
      });

      it('keeps one direct conversation per pair, in either order', async () => {
        const [a, b, c] = users('a', 'b', 'c');
        const direct = (x: string, y: string) =>
          store.createConversation({ type: 'direct', createdBy: x, public: false, members: [{ userId: x, role: 'member' }, { userId: y, role: 'member' }] });
        const first = await direct(a!, b!);
        expect(first.created).toBe(true);
        expect(first.conversation).toMatchObject({ type: 'direct', createdBy: a, lastSeq: 0 });
        const again = await direct(b!, a!);
        expect(again).toEqual({ conversation: first.conversation, created: false });
        const other = await direct(a!, c!);
        expect(other.created).toBe(true);
        expect(other.conversation.id).not.toBe(first.conversation.id);
        expect(await store.countMembers(first.conversation.id)).toBe(2);
      });

      it('refuses members that do not include the creator, storing nothing', async () => {
        const [a, b, c] = users('a', 'b', 'c');
        const attempts = [
          { type: 'group' as const, title: 'no creator', createdBy: a!, public: false, members: [{ userId: b!, role: 'owner' as Role }] },
          { type: 'group' as const, createdBy: a!, public: false, members: [] },
          { type: 'direct' as const, createdBy: a!, public: false, members: [{ userId: b!, role: 'member' as Role }, { userId: c!, role: 'member' as Role }] },
        ];
        for (const input of attempts) {
          await expect(store.createConversation(input), input.type).rejects.toBeInstanceOf(InvalidArgumentStoreError);
        }
        for (const u of [a!, b!, c!]) expect(await store.listConversationIds(u)).toEqual([]);
        // The pair b–c is still free: the refused direct create left no key behind.
        const bc = await store.createConversation({ ...attempts[2]!, createdBy: b! });
        expect(bc.created).toBe(true);
      });

      it('creates exactly one direct conversation under concurrent creates in both orders', async () => {
        const [a, b] = users('a', 'b');
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => {
            const [x, y] = i % 2 ? [a!, b!] : [b!, a!];
            return store.createConversation({ type: 'direct', createdBy: x, public: false, members: [{ userId: x, role: 'member' }, { userId: y, role: 'member' }] });
          }),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.conversation.id)).size).toBe(1);
        expect(await store.countMembers(results[0]!.conversation.id)).toBe(2);
        expect(await store.listConversationIds(a!)).toEqual([results[0]!.conversation.id]);
      });
    });

    describe('membership', () => {
      it('addMembers opens periods at lastSeq and returns the ids added, in input order', async () => {
        const [a, b, c, d] = users('a', 'b', 'c', 'd');
        const conv = await group(a!);
        await post(conv.id, a!, 3);
        const added = await store.addMembers(conv.id, [
          { userId: c!, role: 'member' },
          { userId: b!, role: 'admin' },
          { userId: a!, role: 'member' },
          { userId: c!, role: 'admin' },
          { userId: d!, role: 'member' },
        ]);
        expect(added).toEqual([c, b, d]);
        expect(await store.getMembership(conv.id, b!)).toMatchObject({ role: 'admin', joinedSeq: 3, deliveredSeq: 3, readSeq: 3 });
        expect((await store.getMembership(conv.id, c!))?.role).toBe('member');
        expect((await store.getMembership(conv.id, a!))?.role).toBe('owner');
        expect(await store.countMembers(conv.id)).toBe(4);
        expect(await store.addMembers(conv.id, [{ userId: b!, role: 'member' }])).toEqual([]);
      });

      it('removeMember closes the period at lastSeq and a rejoin opens a new one', async () => {
        const [a, b, stranger] = users('a', 'b', 'stranger');
        const conv = await group(a!, [b!]);
        await post(conv.id, a!, 2);
        expect(await store.removeMember(conv.id, b!)).toBe(true);
        expect(await store.removeMember(conv.id, b!)).toBe(false);
        expect(await store.removeMember(conv.id, stranger!)).toBe(false);
        expect(await store.getMembership(conv.id, b!)).toBeNull();
        expect(await store.listPeriods(conv.id, b!)).toEqual([{ afterSeq: 0, untilSeq: 2 }]);
        expect(await store.listConversationIds(b!)).toEqual([]);
        expect(await store.countMembers(conv.id)).toBe(1);

        await post(conv.id, a!, 2);
        expect(await store.addMembers(conv.id, [{ userId: b!, role: 'member' }])).toEqual([b]);
        expect(await store.listPeriods(conv.id, b!)).toEqual([
          { afterSeq: 0, untilSeq: 2 },
          { afterSeq: 4, untilSeq: null },
        ]);
        expect(await store.getMembership(conv.id, b!)).toMatchObject({ joinedSeq: 4, readSeq: 4 });
        expect(await store.listConversationIds(b!)).toEqual([conv.id]);
        expect(await store.listPeriods(conv.id, stranger!)).toEqual([]);
      });

      it('setRole changes the open period and answers false for non-members', async () => {
        const [a, b, stranger] = users('a', 'b', 'stranger');
        const conv = await group(a!, [b!]);
        expect(await store.setRole(conv.id, b!, 'moderator')).toBe(true);
        expect((await store.getMembership(conv.id, b!))?.role).toBe('moderator');
        expect(await store.setRole(conv.id, stranger!, 'admin')).toBe(false);
        await store.removeMember(conv.id, b!);
        expect(await store.setRole(conv.id, b!, 'admin')).toBe(false);
        expect(await store.getMembership(conv.id, stranger!)).toBeNull();
      });

      it('listMembers pages current members by userId with an opaque cursor', async () => {
        const [a, b, c, d, e] = users('a', 'b', 'c', 'd', 'e');
        const conv = await group(c!, [e!, a!, d!, b!]);
        await store.removeMember(conv.id, d!);
        await store.setReadReceipts(b!, false);
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listMembers(conv.id, { limit: 2, ...(cursor && { cursor }) });
          expect(page.items.length).toBeLessThanOrEqual(2);
          seen.push(...page.items.map((m) => m.userId));
          for (const m of page.items) {
            expect(m).toMatchObject({ role: m.userId === c ? 'owner' : 'member', deliveredSeq: 0, readReceipts: m.userId !== b });
            if (m.userId !== b) expect(m.readSeq).toBe(0);
          }
          cursor = page.nextCursor;
          pages++;
        } while (cursor && pages < 10);
        expect(seen).toEqual([a, b, c, e]);
        expect(pages).toBe(2);
        for (const bad of MALFORMED_CURSORS) {
          await expect(store.listMembers(conv.id, { limit: 2, cursor: bad })).rejects.toBeInstanceOf(InvalidArgumentStoreError);
        }
      });
    });

    describe('messages', () => {
      it('appendMessage assigns increasing seqs and stores every field', async () => {
        const [a] = users('a');
        const conv = await group(a!);
        const attachment = { url: 'https://files.example.com/x.pdf', name: 'x.pdf', size: 1234, mime: 'application/pdf' };
        const r1 = await store.appendMessage(text(conv.id, a!, 'c1', 'hello\nworld'));
        const r2 = await store.appendMessage({ conversationId: conv.id, senderId: a!, clientMsgId: 'c2', kind: 'file', attachment });
        const r3 = await store.appendMessage({ conversationId: conv.id, senderId: a!, clientMsgId: 'c3', kind: 'system', system: { action: 'added', actorId: a!, userIds: ['x'] } });
        expect([r1, r2, r3].map((r) => r.duplicate)).toEqual([false, false, false]);
        expect(r1.message).toMatchObject({ conversationId: conv.id, seq: 1, senderId: a, clientMsgId: 'c1', kind: 'text', text: 'hello\nworld' });
        expect(r1.message.attachment).toBeUndefined();
        expect(r2.message).toMatchObject({ seq: 2, kind: 'file', attachment });
        expect(r2.message.text).toBeUndefined();
        expect(r3.message).toMatchObject({ seq: 3, kind: 'system', system: { action: 'added', actorId: a, userIds: ['x'] } });
        for (const { message } of [r1, r2, r3]) {
          expect(message.id).toMatch(ID);
          expect(new Date(message.createdAt).toISOString()).toBe(message.createdAt);
          expect(await store.getMessage(message.id)).toEqual(message);
          expect(await store.getMessageByClientId(conv.id, a!, message.clientMsgId)).toEqual(message);
        }
        expect((await store.getConversation(conv.id))?.lastSeq).toBe(3);
        expect(await store.getMessage('nosuchmessage')).toBeNull();
        expect(await store.getMessageByClientId(conv.id, a!, 'nope')).toBeNull();
      });

      it('appendMessage to a missing conversation throws NotFoundStoreError', async () => {
        await expect(store.appendMessage(text('doesnotexist0000', 'u', 'c1'))).rejects.toBeInstanceOf(NotFoundStoreError);
      });

      it('a repeated clientMsgId returns the original and stores nothing', async () => {
        const [a, b] = users('a', 'b');
        const conv = await group(a!, [b!]);
        const first = await store.appendMessage(text(conv.id, a!, 'same', 'original'));
        const again = await store.appendMessage(text(conv.id, a!, 'same', 'changed'));
        expect(again).toEqual({ message: first.message, duplicate: true });
        // The key includes the sender: another member may use the same clientMsgId.
        const other = await store.appendMessage(text(conv.id, b!, 'same', 'from b'));
        expect(other.duplicate).toBe(false);
        expect(other.message.seq).toBeGreaterThan(first.message.seq);
        expect(await seqsVisible(conv.id, [{ afterSeq: 0, untilSeq: null }])).toEqual([first.message.seq, other.message.seq]);
      });

      it('stores one message for 20 concurrent identical appends', async () => {
        const [a] = users('a');
        const conv = await group(a!);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.appendMessage(text(conv.id, a!, 'burst'))));
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
        expect(results.filter((r) => r.duplicate)).toHaveLength(19);
        expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
        expect(await seqsVisible(conv.id, [{ afterSeq: 0, untilSeq: null }])).toEqual([results[0]!.message.seq]);
      });

      it('gives 50 concurrent appends 50 distinct seqs', async () => {
        const [a] = users('a');
        const conv = await group(a!);
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.appendMessage(text(conv.id, a!, `c${i}`))));
        const seqs = results.map((r) => r.message.seq).sort((x, y) => x - y);
        expect(new Set(seqs).size).toBe(50);
        expect(seqs[0]).toBeGreaterThan(0);
        expect(await seqsVisible(conv.id, [{ afterSeq: 0, untilSeq: null }])).toEqual(seqs);
        expect((await store.getConversation(conv.id))!.lastSeq).toBeGreaterThanOrEqual(seqs.at(-1)!);
      });

      it('appendMessages stores a batch across conversations and resolves repeats in and before it', async () => {
        const [a, b] = users('a', 'b');
        const x = await group(a!, [b!]);
        const y = await group(b!, [a!]);
        const pre = await store.appendMessage(text(x.id, a!, 'pre'));
        const results = await store.appendMessages([
          text(x.id, a!, 'k1', 'x one'),
          text(y.id, b!, 'k1', 'y one'),
          text(x.id, a!, 'k2', 'x two'),
          text(x.id, a!, 'k1', 'x one again'),
          text(x.id, a!, 'pre', 'pre again'),
          text(y.id, a!, 'k1', 'y by a'),
        ]);
        expect(results.map((r) => r.duplicate)).toEqual([false, false, false, true, true, false]);
        const [x1, y1, x2, x1again, preAgain, ya] = results.map((r) => r.message);
        expect(x1).toMatchObject({ conversationId: x.id, senderId: a, clientMsgId: 'k1', text: 'x one' });
        expect(y1).toMatchObject({ conversationId: y.id, senderId: b, text: 'y one' });
        expect(x1again).toEqual(x1);
        expect(preAgain).toEqual(pre.message);
        expect(pre.message.seq).toBeLessThan(x1!.seq);
        expect(x1!.seq).toBeLessThan(x2!.seq);
        expect(y1!.seq).toBeLessThan(ya!.seq);
        expect(await store.getMessage(x2!.id)).toEqual(x2);
        expect(await seqsVisible(x.id, [{ afterSeq: 0, untilSeq: null }])).toEqual([pre.message.seq, x1!.seq, x2!.seq]);
        expect(await seqsVisible(y.id, [{ afterSeq: 0, untilSeq: null }])).toEqual([y1!.seq, ya!.seq]);
        expect(await store.appendMessages([])).toEqual([]);
        await expect(store.appendMessages([text('doesnotexist0000', a!, 'k9')])).rejects.toBeInstanceOf(NotFoundStoreError);
      });

      it('stores each key once when batches and single appends of the same keys race', async () => {
        const [a] = users('a');
        const conv = await group(a!);
        const keys = ['r1', 'r2', 'r3', 'r4', 'r5'];
        const [forward, backward, single] = await Promise.all([
          store.appendMessages(keys.map((k) => text(conv.id, a!, k))),
          store.appendMessages([...keys].reverse().map((k) => text(conv.id, a!, k))),
          store.appendMessage(text(conv.id, a!, 'r3')),
        ]);
        const all = [...forward, ...backward, single];
        for (const k of keys) {
          const mine = all.filter((r) => r.message.clientMsgId === k);
          expect(mine.filter((r) => !r.duplicate)).toHaveLength(1);
          expect(new Set(mine.map((r) => r.message.id)).size).toBe(1);
        }
        expect(await seqsVisible(conv.id, [{ afterSeq: 0, untilSeq: null }])).toHaveLength(5);
      });
    });

    describe('history', () => {
      it('pageMessages returns only messages inside the given periods', async () => {
        const [a, b, c] = users('a', 'b', 'c');
        const conv = await group(a!);
        await post(conv.id, a!, 5); // 1..5, before b joins
        await store.addMembers(conv.id, [{ userId: b!, role: 'member' }]);
        await post(conv.id, a!, 3); // 6..8
        await store.removeMember(conv.id, b!);
        await post(conv.id, a!, 2); // 9..10, while b is away
        await store.addMembers(conv.id, [{ userId: b!, role: 'member' }, { userId: c!, role: 'member' }]);
        await post(conv.id, a!, 2); // 11..12
        const periods = await store.listPeriods(conv.id, b!);
        expect(periods).toEqual([
          { afterSeq: 5, untilSeq: 8 },
          { afterSeq: 10, untilSeq: null },
        ]);
        const seqs = (q: { before?: number; after?: number; limit?: number }) =>
          store.pageMessages({ conversationId: conv.id, periods, limit: 50, ...q }).then((ms) => ms.map((m) => m.seq));
        expect(await seqs({})).toEqual([12, 11, 8, 7, 6]);
        expect(await seqs({ after: 0 })).toEqual([6, 7, 8, 11, 12]);
        expect(await seqs({ before: 11, limit: 2 })).toEqual([8, 7]);
        expect(await seqs({ after: 7, limit: 2 })).toEqual([8, 11]);
        expect(await seqs({ before: 6 })).toEqual([]);
        // c joined at 10 and sees nothing earlier; a left member's closed period ends at 8.
        expect(await seqsVisible(conv.id, await store.listPeriods(conv.id, c!))).toEqual([11, 12]);
        expect(await seqsVisible(conv.id, [{ afterSeq: 5, untilSeq: 8 }])).toEqual([6, 7, 8]);
        expect(await seqsVisible(conv.id, [])).toEqual([]);
      });

      it('pages through 120 messages with limit 7, each visible message exactly once, both ways', async () => {
        const [a] = users('a');
        const conv = await group(a!);
        for (let batch = 0; batch < 3; batch++) {
          await store.appendMessages(Array.from({ length: 40 }, (_, i) => text(conv.id, a!, `p${batch * 40 + i}`)));
        }
        const all = await seqsVisible(conv.id, [{ afterSeq: 0, untilSeq: null }]);
        expect(all).toHaveLength(120);
        const periods: Period[] = [
          { afterSeq: all[9]!, untilSeq: all[49]! },
          { afterSeq: all[69]!, untilSeq: null },
        ];
        const visible = all.filter((s) => (s > all[9]! && s <= all[49]!) || s > all[69]!);
        expect(visible).toHaveLength(90);

        const newestFirst: number[] = [];
        let before: number | undefined;
        for (let guard = 0; guard < 50; guard++) {
          const page = await store.pageMessages({ conversationId: conv.id, periods, limit: 7, ...(before !== undefined && { before }) });
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(7);
          newestFirst.push(...page.map((m) => m.seq));
          before = page.at(-1)!.seq;
        }
        expect(newestFirst).toEqual([...visible].reverse());

        const oldestFirst: number[] = [];
        let after = 0;
        for (let guard = 0; guard < 50; guard++) {
          const page = await store.pageMessages({ conversationId: conv.id, periods, after, limit: 7 });
          if (page.length === 0) break;
          oldestFirst.push(...page.map((m) => m.seq));
          after = page.at(-1)!.seq;
        }
        expect(oldestFirst).toEqual(visible);
      });
    });

    describe('watermarks', () => {
      it('advanceWatermarks only moves forward, caps at lastSeq and ignores non-members', async () => {
        const [a, b, stranger] = users('a', 'b', 'stranger');
        const conv = await group(a!, [b!]);
        await post(conv.id, a!, 5);
        const w = (userId: string, type: 'delivered' | 'read', seq: number) => ({ conversationId: conv.id, userId, type, seq });
        expect(await store.advanceWatermarks([w(b!, 'delivered', 3)])).toEqual([3]);
        expect(await store.advanceWatermarks([w(b!, 'delivered', 2)])).toEqual([false]);
        expect(await store.advanceWatermarks([w(b!, 'read', 99)])).toEqual([5]); // the stored value, capped
        expect(await store.getMembership(conv.id, b!)).toMatchObject({ deliveredSeq: 3, readSeq: 5 });
        expect(await store.advanceWatermarks([w(b!, 'read', 5)])).toEqual([false]);
        expect(
          await store.advanceWatermarks([w(b!, 'delivered', 4), w(b!, 'delivered', 4), w(b!, 'read', 1), w(stranger!, 'read', 1), w(a!, 'delivered', 5), w(a!, 'read', 2)]),
        ).toEqual([4, false, false, false, 5, 2]);
        expect(await store.getMembership(conv.id, b!)).toMatchObject({ deliveredSeq: 4, readSeq: 5 });
        expect(await store.getMembership(conv.id, a!)).toMatchObject({ deliveredSeq: 5, readSeq: 2 });
        await store.removeMember(conv.id, b!);
        expect(await store.advanceWatermarks([w(b!, 'delivered', 5)])).toEqual([false]);
        expect(await store.advanceWatermarks([])).toEqual([]);
      });

      it('an append marked senderSeen moves the sender\'s watermarks with it, single and batched; a repeat and others do not', async () => {
        const [a, b, c] = users('a', 'b', 'c');
        const conv = await group(a!, [b!, c!]);
        const first = await store.appendMessage({ ...text(conv.id, a!, 'seen-1'), senderSeen: true });
        expect(await store.getMembership(conv.id, a!)).toMatchObject({ deliveredSeq: first.message.seq, readSeq: first.message.seq });
        await store.appendMessage(text(conv.id, b!, 'unseen'));
        expect(await store.getMembership(conv.id, b!)).toMatchObject({ deliveredSeq: 0, readSeq: 0 });
        const batch = await store.appendMessages([
          { ...text(conv.id, b!, 'seen-2'), senderSeen: true },
          { ...text(conv.id, b!, 'seen-3'), senderSeen: true },
          { ...text(conv.id, a!, 'seen-1'), senderSeen: true },
        ]);
        expect(batch.map((r) => r.duplicate)).toEqual([false, false, true]);
        expect(await store.getMembership(conv.id, b!)).toMatchObject({ deliveredSeq: batch[1]!.message.seq, readSeq: batch[1]!.message.seq });
        // The repeat of a's first message moved nothing back or forward; c sent nothing.
        expect(await store.getMembership(conv.id, a!)).toMatchObject({ deliveredSeq: first.message.seq, readSeq: first.message.seq });
        expect(await store.getMembership(conv.id, c!)).toMatchObject({ deliveredSeq: 0, readSeq: 0 });
      });
    });

    describe('listConversations', () => {
      const activity = (s: { conversation: Conversation; lastMessage?: Message }) => s.lastMessage?.createdAt ?? s.conversation.createdAt;

      it('lists current conversations by activity with unread counts, last message and a cursor', async () => {
        const [u, p] = users('u', 'p');
        const c1 = await group(u!, [p!]);
        const { conversation: c2 } = await store.createConversation({
          type: 'direct', createdBy: p!, public: false, members: [{ userId: p!, role: 'member' }, { userId: u!, role: 'member' }],
        });
        const c3 = await group(p!, [u!]);
        const left = await group(p!, [u!]);
        await group(p!); // never a member
        await store.removeMember(left.id, u!);
        await post(c3.id, p!, 3);
        await post(c1.id, p!, 2); // 1, 2
        await post(c1.id, u!, 1); // 3: own, not unread
        await store.appendMessage({ conversationId: c1.id, senderId: p!, clientMsgId: 'sys', kind: 'system', system: { action: 'role', actorId: p! } });
        await store.advanceWatermarks([{ conversationId: c1.id, userId: u!, type: 'read', seq: 1 }]);

        const { items, nextCursor } = await store.listConversations(u!, { limit: 10 });
        expect(nextCursor).toBeUndefined();
        expect(items.map((s) => s.conversation.id).sort()).toEqual([c1.id, c2.id, c3.id].sort());
        for (let i = 1; i < items.length; i++) expect(activity(items[i - 1]!) >= activity(items[i]!)).toBe(true);
        const byId = new Map(items.map((s) => [s.conversation.id, s]));
        expect(byId.get(c1.id)).toMatchObject({ role: 'owner', unread: 1, conversation: { lastSeq: 4 }, lastMessage: { seq: 4, kind: 'system' } });
        expect(byId.get(c2.id)).toMatchObject({ role: 'member', unread: 0 });
        expect(byId.get(c2.id)!.lastMessage).toBeUndefined();
        expect(byId.get(c3.id)).toMatchObject({ role: 'member', unread: 3, lastMessage: { seq: 3, senderId: p } });
        expect(byId.get(c3.id)!.lastMessage).toEqual(await store.getMessage(byId.get(c3.id)!.lastMessage!.id));

        for (const limit of [1, 2]) {
          const paged: string[] = [];
          let cursor: string | undefined;
          for (let guard = 0; guard < 10; guard++) {
            const page = await store.listConversations(u!, { limit, ...(cursor && { cursor }) });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            paged.push(...page.items.map((s) => s.conversation.id));
            cursor = page.nextCursor;
            if (!cursor) break;
          }
          expect(paged).toEqual(items.map((s) => s.conversation.id));
        }
        for (const bad of MALFORMED_CURSORS) {
          await expect(store.listConversations(u!, { limit: 2, cursor: bad })).rejects.toBeInstanceOf(InvalidArgumentStoreError);
        }
      });

      it('listConversationIds gives current conversations most recently active first, up to a limit', async () => {
        const [u, p] = users('u', 'p');
        const quiet = await group(p!, [u!]);
        const busy = await group(p!, [u!]);
        const left = await group(p!, [u!]);
        const fresh = await group(p!, [u!]);
        await post(quiet.id, p!, 1);
        await post(left.id, p!, 1);
        await store.removeMember(left.id, u!);
        await post(busy.id, p!, 1);
        // fresh has no message: its creation is its activity, before either post.
        const ids = await store.listConversationIds(u!);
        const { items } = await store.listConversations(u!, { limit: 10 });
        expect(ids).toEqual(items.map((s) => s.conversation.id));
        expect(ids).toEqual([busy.id, quiet.id, fresh.id]);
        expect(await store.listConversationIds(u!, 2)).toEqual([busy.id, quiet.id]);
        const ofP = (await store.listConversations(p!, { limit: 10 })).items.map((s) => s.conversation.id);
        expect(await store.listConversationIds(p!, 1)).toEqual(ofP.slice(0, 1));
        // Several users at once: each as alone, in the order asked, none for a stranger.
        const [stranger] = users('x');
        expect(await store.listConversationIdsOfUsers([p!, stranger!, u!], 2)).toEqual([ofP.slice(0, 2), [], [busy.id, quiet.id]]);
      });

      it('counts and shows only what the member may see', async () => {
        const [u, p] = users('u', 'p');
        const late = await group(p!);
        await post(late.id, p!, 2); // before u joins
        await store.addMembers(late.id, [{ userId: u!, role: 'member' }]);
        await post(late.id, p!, 1);
        const back = await group(p!, [u!]);
        const [seen] = await post(back.id, p!, 1);
        await store.removeMember(back.id, u!);
        await post(back.id, p!, 1); // while u is away
        await store.addMembers(back.id, [{ userId: u!, role: 'member' }]);

        const { items } = await store.listConversations(u!, { limit: 10 });
        const byId = new Map(items.map((s) => [s.conversation.id, s]));
        expect(byId.get(late.id)).toMatchObject({ unread: 1, lastMessage: { seq: 3 } });
        expect(byId.get(back.id)).toMatchObject({ unread: 0, lastMessage: { id: seen!.id } });
      });
    });

    syncCases(() => store);
    boundsCases(() => store);
    changeCases(() => store);
    membershipOrderCases(() => store);

    describe('settings', () => {
      it('read receipts default to true and can be switched', async () => {
        const [u] = users('u');
        expect(await store.getReadReceipts(u!)).toBe(true);
        await store.setReadReceipts(u!, false);
        expect(await store.getReadReceipts(u!)).toBe(false);
        await store.setReadReceipts(u!, true);
        expect(await store.getReadReceipts(u!)).toBe(true);
      });
    });

    // Last: it grows the MongoDB lane's test server, which slows every later call.
    cyclesCase(makeStore);
  });
}
