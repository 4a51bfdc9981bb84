// What PostgreSQL does for history and sync of a reader with 1,000 leave/rejoin cycles against a
// reader with one period (#13, PROTOCOL.md §7), from EXPLAIN ANALYZE: the rows each statement
// reads from memberships and messages, and one statement text (one plan) whatever the number of
// periods. Server-side planning + execution medians are printed for BENCHMARKS.md, not asserted.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresUrl } from '../../test/support/env.js';
import { seedPostgresCycles } from '../../test/support/seed-cycles.js';
import { pageChangesQuery } from './changes.js';
import { PostgresStore } from './postgres.store.js';
import { LIST_PERIODS_AFTER, LIST_PERIODS_BEFORE, MAX_SEQ, pageMessagesQuery } from './sql.js';

const CYCLES = 1_000;
let store: PostgresStore;
let db: pg.Client;
let id: string;

beforeAll(async () => {
  const url = await freshPostgresUrl();
  store = new PostgresStore({ url });
  await store.init();
  const members = ['owner', 'cycler', 'steady'].map((userId, i) => ({ userId, role: i ? ('member' as const) : ('owner' as const) }));
  id = (await store.createConversation({ type: 'group', createdBy: 'owner', public: false, members })).conversation.id;
  await seedPostgresCycles(url, { conversationId: id, owner: 'owner', cycler: 'cycler', cycles: CYCLES });
  await store.changeMessage({ conversationId: id, messageId: `${id}-1`, type: 'edit', text: 'edited' });
  db = new pg.Client({ connectionString: url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await store?.close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}
type Explained = { Plan: PlanNode; 'Planning Time': number; 'Execution Time': number };

async function explain([sql, params]: [string, unknown[]]): Promise<Explained> {
  const { rows } = await db.query<{ 'QUERY PLAN': [Explained] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
  return rows[0]!['QUERY PLAN'][0];
}

/** Rows the statement took from a table's scans (every loop counted). */
function rowsRead(node: PlanNode, table: string): number {
  const own = node['Relation Name'] === table ? node['Actual Rows'] * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((n, child) => n + rowsRead(child, table), 0);
}

/** The statements of a history page (50, read as 51) and of a sync from the middle (100, read as 101). */
async function statements(user: string): Promise<Record<string, [string, unknown[]]>> {
  const before = await store.listPeriods(id, user, { limit: 51 });
  const after = await store.listPeriods(id, user, { after: CYCLES, limit: 101 });
  return {
    'history periods': [LIST_PERIODS_BEFORE, [id, user, MAX_SEQ, 51]],
    'history page': pageMessagesQuery({ conversationId: id, periods: before, limit: 51 })!,
    'sync periods': [LIST_PERIODS_AFTER, [id, user, CYCLES, 101]],
    'sync page': pageMessagesQuery({ conversationId: id, periods: after, after: CYCLES, limit: 101 })!,
    'sync changes': pageChangesQuery({ conversationId: id, userId: user, after: CYCLES, limit: 101 })!,
  };
}

describe(`PostgreSQL plans after ${CYCLES} leave/rejoin cycles`, () => {
  it('history and sync read the periods of their page only, in one plan whatever their number', async () => {
    const read: Record<string, { memberships: number; messages: number }> = {};
    for (const user of ['cycler', 'steady']) {
      for (const [name, q] of Object.entries(await statements(user))) {
        const { Plan } = await explain(q);
        read[`${user} ${name}`] = { memberships: rowsRead(Plan, 'memberships'), messages: rowsRead(Plan, 'messages') };
      }
    }
    console.log(`rows read: ${JSON.stringify(read)}`);
    // The page's periods, plus at most a few rows of the probes that find where to start (the
    // planner's choice of index decides which): never the 1,000.
    const between = (v: number, lo: number, hi: number) => expect(v, `${v} in [${lo}, ${hi}]`).toSatisfy((x: number) => x >= lo && x <= hi);
    between(read['cycler history periods']!.memberships, 51, 51 + 3);
    between(read['cycler sync periods']!.memberships, 101, 101 + 3);
    between(read['steady history periods']!.memberships, 1, 1 + 3);
    between(read['steady sync periods']!.memberships, 1, 1 + 3);
    for (const user of ['cycler', 'steady']) {
      // Pages read exactly their messages, one index scan per period, nothing between periods.
      expect(read[`${user} history page`]).toEqual({ memberships: 0, messages: 51 });
      expect(read[`${user} sync page`]).toEqual({ memberships: 0, messages: 101 });
      // The one edited message, checked by probing the one period that can hold it.
      expect(read[`${user} sync changes`]!.messages).toBe(1);
      between(read[`${user} sync changes`]!.memberships, 1, 3);
    }
    // One statement text for 2 ranges and for 201: planned alike, whatever the cycles.
    const ranges = (n: number) => Array.from({ length: n }, (_, i) => ({ afterSeq: 2 * i, untilSeq: 2 * i + 1 }));
    expect(pageMessagesQuery({ conversationId: id, periods: ranges(2), limit: 51 })![0]).toBe(pageMessagesQuery({ conversationId: id, periods: ranges(201), limit: 51 })![0]);
  });

  it('prints server-side medians (planning + execution) for BENCHMARKS.md', async () => {
    const times: Record<string, number[]> = {};
    const all = { cycler: await statements('cycler'), steady: await statements('steady') };
    for (let run = 0; run < 15; run++) {
      for (const [user, qs] of Object.entries(all)) {
        for (const [name, q] of Object.entries(qs)) {
          const e = await explain(q);
          (times[`${user} ${name}`] ??= []).push(e['Planning Time'] + e['Execution Time']);
        }
      }
    }
    const median = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number(v.sort((a, b) => a - b)[7]!.toFixed(3))]));
    console.log(`server ms, median of 15, ${CYCLES} cycles: ${JSON.stringify(median)}`);
    expect(Object.keys(median)).toHaveLength(10);
  });
});
