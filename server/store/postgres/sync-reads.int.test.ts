// The coalesced sync reads (sync-reads.ts) against the real server: many concurrent change pages,
// period reads and message pages leave as a few statements, and each caller gets exactly what its
// own single-call statement returns (same rows, order and limit; a reader who left and rejoined
// sees only their periods, a stranger nothing).
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshPostgresUrl } from '../../test/support/env.js';
import type { MessagePageQuery } from '../store.js';
import { PAGE_CHANGES } from './changes.js';
import { createPool } from './db.js';
import { PAGE_ONE_ASC, pageMessagesQuery } from './page-sql.js';
import { PostgresStore } from './postgres.store.js';
import { toMessage, type MessageRow } from './rows.js';
import * as SQL from './sql.js';
import { createSyncReads } from './sync-reads.js';

let store: PostgresStore;
let pool: pg.Pool;
const ids: string[] = [];
const users = ['owner', 'u1', 'u2', 'stranger'];
beforeAll(async () => {
  const url = await freshPostgresUrl();
  store = new PostgresStore({ url });
  await store.init();
  pool = createPool({ url }); // the adapter's own (int8 as numbers)
  for (let i = 0; i < 3; i++) {
    const { conversation } = await store.createConversation({
      type: 'group',
      title: `g${i}`,
      createdBy: 'owner',
      public: false,
      members: ['owner', 'u1', 'u2'].map((userId) => ({ userId, role: userId === 'owner' ? ('owner' as const) : ('member' as const) })),
    });
    ids.push(conversation.id);
    for (let m = 0; m < 12; m++) {
      const { message } = await store.appendMessage({ conversationId: conversation.id, senderId: 'owner', clientMsgId: `m${m}`, kind: 'text', text: `t${m}` });
      if (m % 3 === 0) await store.changeMessage({ conversationId: conversation.id, messageId: message.id, type: 'edit', text: `e${m}` });
      if (m % 4 === 1) await store.changeMessage({ conversationId: conversation.id, messageId: message.id, type: 'react', userId: 'u1', emoji: '👍', on: true });
      // u2 leaves and comes back twice in the first conversation: three periods with gaps.
      if (i === 0 && (m === 3 || m === 7)) await store.removeMember(conversation.id, 'u2');
      if (i === 0 && (m === 5 || m === 9)) await store.addMembers(conversation.id, [{ userId: 'u2', role: 'member' }]);
    }
  }
});
afterAll(async () => {
  await pool?.end();
  await store?.close();
});

function counting() {
  const counter = { queries: 0 };
  const reads = createSyncReads((text, values) => {
    counter.queries++;
    return pool.query(text, values);
  });
  return { counter, reads };
}

const single = async (text: string, values: unknown[]) => (await pool.query<MessageRow>(text, values)).rows.map(toMessage);

it('answers 300 concurrent change pages in a handful of statements, each its own page', async () => {
  const { counter, reads } = counting();
  const qs = Array.from({ length: 300 }, (_, i) => ({
    conversationId: i % 7 === 6 ? 'missing' : ids[i % ids.length]!,
    userId: users[i % users.length]!,
    after: i % 13,
    limit: 1 + (i % 5),
  }));
  const pages = await Promise.all(qs.map((q) => reads.pageChanges(q)));
  expect(counter.queries).toBeLessThanOrEqual(4);
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i]!;
    expect(pages[i]).toEqual(await single(PAGE_CHANGES, [q.conversationId, q.after, q.userId, q.limit]));
    if (q.userId === 'stranger' || q.conversationId === 'missing') expect(pages[i]).toEqual([]);
  }
  expect(pages.some((p) => p.length > 1)).toBe(true);
});

it('answers 300 concurrent period reads and single-range pages in a handful of statements', async () => {
  const { counter, reads } = counting();
  const qs = Array.from({ length: 300 }, (_, i) => ({ conversationId: ids[i % ids.length]!, userId: users[i % users.length]!, after: i % 20, limit: 1 + (i % 5) }));
  const periods = await Promise.all(qs.map((q) => reads.periodsAfter(q.conversationId, q.userId, q.after, q.limit)));
  expect(counter.queries).toBeLessThanOrEqual(4);
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i]!;
    const { rows } = await pool.query<{ joined_seq: number; left_seq: number | null }>(SQL.LIST_PERIODS_AFTER, [q.conversationId, q.userId, q.after, q.limit]);
    expect(periods[i]).toEqual(rows.map((r) => ({ afterSeq: r.joined_seq, untilSeq: r.left_seq })));
  }
  // u2's three periods in the first conversation: several periods per reader are read.
  expect(periods.some((p) => p.length > 1)).toBe(true);

  // The message pages over what each reader read: one range each (batched) or several (alone).
  counter.queries = 0;
  const pageQs: MessagePageQuery[] = qs.map((q, i) => ({ conversationId: q.conversationId, periods: periods[i]!, after: q.after, limit: 1 + (i % 6) }));
  const pages = await Promise.all(pageQs.map((q) => reads.pageMessages(q)));
  const alone = pageQs.filter((q) => pageMessagesQuery(q) && pageMessagesQuery(q)![0] !== PAGE_ONE_ASC);
  expect(alone.length).toBeGreaterThan(0);
  expect(counter.queries).toBeLessThanOrEqual(4 + alone.length);
  for (let i = 0; i < pageQs.length; i++) {
    const page = pageMessagesQuery(pageQs[i]!);
    expect(pages[i]).toEqual(page ? await single(...page) : []);
  }
  expect(pages.filter((p) => p.length > 1).length).toBeGreaterThan(50);
});

it('sends a call with a number that is not a non-negative integer alone, failing only that call', async () => {
  const { reads } = counting();
  const good = { conversationId: ids[1]!, userId: 'u1', after: 0, limit: 3 };
  const [bad, negative, ok] = await Promise.allSettled([
    reads.pageChanges({ ...good, after: 1.5 }),
    reads.periodsAfter(good.conversationId, 'u1', 0, -1),
    reads.pageChanges(good),
  ]);
  expect(bad.status).toBe('rejected');
  expect(negative.status).toBe('rejected');
  expect(ok).toEqual({ status: 'fulfilled', value: await single(PAGE_CHANGES, [good.conversationId, 0, 'u1', 3]) });
});
