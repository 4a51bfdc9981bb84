// Contract of the store port, part three: the bounds of PROTOCOL.md §7 that live in the store.
// A user's open memberships are capped (ConflictStoreError, nothing added), and a reader with
// many membership periods has only the periods near a page read (listPeriods with a range;
// pageVisibleMessages pages through them). Run by storeContract on the same store; data stays
// small because the MongoDB lane runs on a slow test server.
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Role } from '../../protocol/index.js';
import { pageVisibleMessages } from './history.js';
import { ConflictStoreError, type Store } from './store.js';

export function boundsCases(getStore: () => Store): void {
  let store: Store;
  beforeEach(() => {
    store = getStore();
  });
  const user = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
  const member = (userId: string, role: Role = 'member') => ({ userId, role });

  async function group(owner: string, others: string[] = []): Promise<string> {
    const { conversation } = await store.createConversation({ type: 'group', createdBy: owner, public: false, members: [member(owner, 'owner'), ...others.map((u) => member(u))] });
    return conversation.id;
  }

  async function post(conversationId: string, senderId: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await store.appendMessage({ conversationId, senderId, clientMsgId: `m${randomBytes(6).toString('hex')}`, kind: 'text', text: 'x' });
    }
  }

  describe('cap on open memberships', () => {
    it('an add beyond the cap throws ConflictStoreError naming the full user and adds nobody', async () => {
      const [owner, full, free] = [user('owner'), user('full'), user('free')];
      const first = await group(owner, [full]);
      await group(owner, [full]);
      const third = await group(owner);
      const err = await store.addMembers(third, [member(free), member(full)], { maxOpenPerUser: 2 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictStoreError);
      expect((err as ConflictStoreError).userIds).toEqual([full]);
      expect(await store.getMembership(third, free)).toBeNull();
      expect(await store.countMembers(third)).toBe(1);
      // A current member is not added again, so the cap does not refuse the no-op.
      expect(await store.addMembers(first, [member(full)], { maxOpenPerUser: 2 })).toEqual([]);
      // Leaving frees a place.
      await store.removeMember(first, full);
      expect(await store.addMembers(third, [member(free), member(full)], { maxOpenPerUser: 2 })).toEqual([free, full]);
    });

    it('a create naming a full user throws ConflictStoreError and creates nothing for them', async () => {
      const [owner, full] = [user('owner'), user('full')];
      await group(owner, [full]);
      const attempt = store.createConversation({
        type: 'group',
        createdBy: owner,
        public: false,
        members: [member(owner, 'owner'), member(full)],
        maxOpenPerUser: 1,
      });
      await expect(attempt).rejects.toBeInstanceOf(ConflictStoreError);
      expect(await store.listConversationIds(full)).toHaveLength(1);
      expect(await store.listConversationIds(owner)).toHaveLength(1);
    });

    it('concurrent adds of one user overshoot the cap by at most the racers minus one', async () => {
      const [owner, target] = [user('owner'), user('target')];
      const cap = 3;
      for (let i = 0; i < cap - 1; i++) await group(owner, [target]);
      const racers = 4;
      const convs = await Promise.all(Array.from({ length: racers }, () => group(owner)));
      const results = await Promise.allSettled(convs.map((c) => store.addMembers(c, [member(target)], { maxOpenPerUser: cap })));
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused.every((r) => r.reason instanceof ConflictStoreError)).toBe(true);
      const open = (await store.listConversationIds(target)).length;
      expect(open).toBeGreaterThanOrEqual(cap);
      expect(open).toBeLessThanOrEqual(cap + racers - 1);
      expect(open).toBe(cap - 1 + (racers - refused.length));
    });
  });

  describe('many membership periods', () => {
    /** A conversation where `reader` had `cycles` periods with `per` messages from `owner` in each. */
    async function cycling(cycles: number, per: number) {
      const [owner, reader] = [user('owner'), user('reader')];
      const id = await group(owner, [reader]);
      for (let i = 0; i < cycles; i++) {
        await post(id, owner, per);
        if (i < cycles - 1) {
          await store.removeMember(id, reader);
          await post(id, owner, 1); // unseen by the reader
          await store.addMembers(id, [member(reader)]);
        }
      }
      return { id, reader, all: await store.listPeriods(id, reader) };
    }

    it('listPeriods with a range returns only the periods nearest it, in its order', async () => {
      const { id, reader, all } = await cycling(6, 2);
      expect(all).toHaveLength(6);
      const [p0, p1, p2, p3] = all;
      expect(await store.listPeriods(id, reader, { after: 0, limit: 2 })).toEqual([p0, p1]);
      // The period holding `after` comes first; those ending at or below it are not read.
      expect(await store.listPeriods(id, reader, { after: p1!.afterSeq + 1, limit: 2 })).toEqual([p1, p2]);
      expect(await store.listPeriods(id, reader, { after: p1!.untilSeq!, limit: 2 })).toEqual([p2, p3]);
      expect(await store.listPeriods(id, reader, { limit: 2 })).toEqual([all[5], all[4]]);
      expect(await store.listPeriods(id, reader, { before: p3!.afterSeq + 1, limit: 3 })).toEqual([p2, p1, p0]);
      expect(await store.listPeriods(id, reader, { after: all[5]!.afterSeq + 50, limit: 3 })).toEqual([all[5]]);
      expect(await store.listPeriods(id, reader, { before: p0!.afterSeq + 1, limit: 3 })).toEqual([]);
    });

    it('pageVisibleMessages pages through periods a few at a time and returns what pageMessages would', async () => {
      const { id, reader, all } = await cycling(7, 2);
      const reads: number[] = [];
      const counting: Store = Object.create(store, {
        listPeriods: { value: async (...args: Parameters<Store['listPeriods']>) => (reads.push(1), store.listPeriods(...args)) },
      });
      for (const q of [{ after: 0, limit: 9 }, { after: 3, limit: 100 }, { limit: 5 }, { before: 12, limit: 100 }, { limit: 100 }]) {
        reads.length = 0;
        const paged = await pageVisibleMessages(counting, { conversationId: id, userId: reader, ...q }, 2);
        const whole = await store.pageMessages({ conversationId: id, periods: all, ...q });
        expect(paged.map((m) => m.seq)).toEqual(whole.map((m) => m.seq));
        expect(reads.length).toBeLessThanOrEqual(Math.ceil(all.length / 2) + 1);
      }
      reads.length = 0;
      await pageVisibleMessages(counting, { conversationId: id, userId: reader, limit: 2 }, 2);
      expect(reads).toHaveLength(1);
    });
  });
}
