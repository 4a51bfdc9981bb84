// Contract of the store port, part four: history and sync after 1,000 leave/rejoin cycles
// (PROTOCOL.md §7), on a store of its own: the MongoDB lane's test server slows down on every
// collection it has grown, so the 2,000 seeded messages stay out of the other cases' way.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageVisibleMessages } from './history.js';
import type { Store } from './store.js';

/**
 * Writes `cycles` leave/rejoin cycles straight into the adapter's tables (the MongoDB lane's
 * test server takes minutes through the port): messages 1..2·cycles from `owner`; `cycler`'s
 * periods (2i, 2i+1] and the last one (2·cycles − 2, open), so each period holds one message
 * and one falls between each two; lastSeq 2·cycles. `cycler` must be a member already.
 */
export type SeedCycles = (q: { conversationId: string; owner: string; cycler: string; cycles: number }) => Promise<void>;

export function cyclesCase(makeStore: () => Promise<{ store: Store; cleanup: () => Promise<void>; seedCycles: SeedCycles }>): void {
  describe('many membership periods, seeded', () => {
    let store: Store;
    let seedCycles: SeedCycles;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ store, cleanup, seedCycles } = await makeStore());
      await store.init();
    });
    afterAll(async () => {
      await cleanup?.();
    });
    const user = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
    const member = (userId: string, role: 'owner' | 'member' = 'member') => ({ userId, role });
    async function group(owner: string, others: string[]): Promise<string> {
      const { conversation } = await store.createConversation({ type: 'group', createdBy: owner, public: false, members: [member(owner, 'owner'), ...others.map((u) => member(u))] });
      return conversation.id;
    }

    it('after 1,000 leave/rejoin cycles a history page and a sync read a page\'s worth of periods, as many statements as one period', async () => {
      const CYCLES = 1_000;
      const [owner, cycler, steady] = [user('owner'), user('cycler'), user('steady')];
      const id = await group(owner, [cycler, steady]);
      await seedCycles({ conversationId: id, owner, cycler, cycles: CYCLES });
      expect(await store.listPeriods(id, cycler)).toHaveLength(CYCLES);
      const lastSeq = 2 * CYCLES;
      const syncFrom = CYCLES; // the middle: 500 periods below, 500 above
      // An old message edited: sync carries it, read through the one period that holds it.
      const edited = await store.changeMessage({ conversationId: id, messageId: (await store.pageMessages({ conversationId: id, periods: [{ afterSeq: 0, untilSeq: 1 }], limit: 1 }))[0]!.id, type: 'edit', text: 'first, edited' });
      expect(edited?.changed).toBe(true);
      const reads = { periods: 0, statements: 0 };
      const counting: Store = Object.create(store, {
        listPeriods: {
          value: async (...args: Parameters<Store['listPeriods']>) => {
            reads.statements++;
            const periods = await store.listPeriods(...args);
            reads.periods += periods.length;
            return periods;
          },
        },
        pageMessages: { value: (q: Parameters<Store['pageMessages']>[0]) => (reads.statements++, store.pageMessages(q)) },
        pageChanges: { value: (q: Parameters<Store['pageChanges']>[0]) => (reads.statements++, store.pageChanges(q)) },
      });
      const measure = async (fn: () => Promise<unknown>) => {
        Object.assign(reads, { periods: 0, statements: 0 });
        await fn();
        return { ...reads };
      };
      // History's default page (50, read as 51) and a sync from the middle with its default 100.
      const history = (userId: string) => pageVisibleMessages(counting, { conversationId: id, userId, limit: 51 });
      const sync = (userId: string) => Promise.all([
        counting.pageChanges({ conversationId: id, userId, after: syncFrom, limit: 101 }),
        pageVisibleMessages(counting, { conversationId: id, userId, after: syncFrom, limit: 101 }),
      ]);
      expect((await history(cycler)).map((m) => m.seq)).toEqual(Array.from({ length: 51 }, (_, i) => (i === 0 ? lastSeq : lastSeq - 1 - 2 * (i - 1))));
      const [changes, fresh] = await sync(cycler);
      expect(changes.map((m) => m.text)).toEqual(['first, edited']);
      expect(fresh.map((m) => m.seq)).toEqual(Array.from({ length: 101 }, (_, i) => syncFrom + 1 + 2 * i));
      const [cyclerHistory, steadyHistory] = [await measure(() => history(cycler)), await measure(() => history(steady))];
      const [cyclerSync, steadySync] = [await measure(() => sync(cycler)), await measure(() => sync(steady))];
      // A period per message of the page, never the 1,000; the same statements as one period.
      expect(cyclerHistory).toEqual({ periods: 51, statements: 2 });
      expect(steadyHistory).toEqual({ periods: 1, statements: 2 });
      expect(cyclerSync.periods).toBe(101);
      expect(cyclerSync.statements).toBe(steadySync.statements);
      // Timing, for BENCHMARKS.md only (a shared machine is too noisy to assert on): medians of
      // 7 interleaved runs.
      const times: Record<string, number[]> = { cyclerHistory: [], steadyHistory: [], cyclerSync: [], steadySync: [] };
      for (let i = 0; i < 7; i++) {
        for (const [name, fn] of [['cyclerHistory', () => history(cycler)], ['steadyHistory', () => history(steady)], ['cyclerSync', () => sync(cycler)], ['steadySync', () => sync(steady)]] as const) {
          const t = performance.now();
          await fn();
          times[name]!.push(performance.now() - t);
        }
      }
      const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.sort((a, b) => a - b)[3]!.toFixed(2)]));
      console.log(`${CYCLES} cycles, median ms: ${JSON.stringify(med)}`);
    }, 180_000);
  });
}
