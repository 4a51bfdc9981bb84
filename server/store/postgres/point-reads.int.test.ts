// The coalesced point reads (point-reads.ts) against the real server: many concurrent reads leave
// as a few queries, and each caller still gets exactly its own row (duplicates, missing rows and
// a member who left included), the same answer as a read on its own.
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshPostgresUrl } from '../../test/support/env.js';
import { createPool } from './db.js';
import { createPointReads } from './point-reads.js';
import { PostgresStore } from './postgres.store.js';
import { toConversation, toMembership } from './rows.js';
import * as SQL from './sql.js';

let store: PostgresStore;
let pool: pg.Pool;
let ids: string[];
beforeAll(async () => {
  const url = await freshPostgresUrl();
  store = new PostgresStore({ url });
  await store.init();
  pool = createPool({ url }); // the adapter's own (int8 as numbers)
  ids = [];
  for (let i = 0; i < 5; i++) {
    const { conversation } = await store.createConversation({
      type: 'group',
      title: `g${i}`,
      createdBy: 'owner',
      public: false,
      members: [{ userId: 'owner', role: 'owner' }, ...['u1', 'u2', 'u3'].map((userId) => ({ userId, role: 'member' as const }))],
    });
    ids.push(conversation.id);
  }
  await store.removeMember(ids[0]!, 'u2');
});
afterAll(async () => {
  await pool?.end();
  await store?.close();
});

it('answers 400 concurrent reads with a handful of queries, each caller its own row', async () => {
  let queries = 0;
  const reads = createPointReads((text, values) => {
    queries++;
    return pool.query(text, values);
  });
  const convIds = [...ids, 'missing'];
  const pairs = convIds.flatMap((c) => ['owner', 'u1', 'u2', 'u3', 'stranger'].map((u) => [c, u] as const));
  const [conversations, memberships] = await Promise.all([
    Promise.all(Array.from({ length: 200 }, (_, i) => reads.conversation(convIds[i % convIds.length]!))),
    Promise.all(Array.from({ length: 200 }, (_, i) => reads.membership(...pairs[i % pairs.length]!))),
  ]);
  // The first read of each kind goes alone, the rest wait for a slot and leave together.
  expect(queries).toBeLessThanOrEqual(8);
  // The reference: each read on its own, with the single-row statements.
  const one = async <R extends pg.QueryResultRow, T>(text: string, values: string[], to: (r: R) => T) => {
    const { rows } = await pool.query<R>(text, values);
    return rows[0] ? to(rows[0]) : null;
  };
  for (let i = 0; i < 200; i++) {
    expect(conversations[i]).toEqual(await one(SQL.GET_CONVERSATION, [convIds[i % convIds.length]!], toConversation));
    const [c, u] = pairs[i % pairs.length]!;
    expect(memberships[i]).toEqual(await one(SQL.GET_MEMBERSHIP, [c, u], toMembership));
    if (c === 'missing' || u === 'stranger' || (c === ids[0] && u === 'u2')) expect(memberships[i]).toBeNull();
    else expect(memberships[i]).toMatchObject({ conversationId: c, userId: u });
  }
  // Callers never share an object.
  expect(conversations[0]).not.toBe(conversations[convIds.length]);
});
