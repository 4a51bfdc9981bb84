// The receipt batcher's linger against a real PostgreSQL store: under a steady stream of
// receipts a watermark write (one statement, one commit) is cut at most once per lingerMs, a
// receipt after a quiet spell is written at once, and every receipt still gets the value stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresUrl } from '../test/support/env.js';
import { PostgresStore } from '../store/postgres/postgres.store.js';
import type { Store, WatermarkUpdate } from '../store/store.js';
import { createWatermarkBatcher } from './watermarks.js';

const MEMBERS = Array.from({ length: 40 }, (_, i) => `m${i}`);
let store: PostgresStore;
let conversationId: string;
beforeAll(async () => {
  store = new PostgresStore({ url: await freshPostgresUrl() });
  await store.init();
  const { conversation } = await store.createConversation({
    type: 'group',
    title: 'receipts',
    createdBy: 'owner',
    public: false,
    members: [{ userId: 'owner', role: 'owner' }, ...MEMBERS.map((userId) => ({ userId, role: 'member' as const }))],
  });
  conversationId = conversation.id;
  for (let i = 0; i < 3; i++) await store.appendMessage({ conversationId, senderId: 'owner', clientMsgId: `w${i}`, kind: 'text', text: `${i}` });
});
afterAll(async () => {
  await store?.close();
});

/** The real store, counting its watermark writes. */
function counting(): { store: Store; writes: () => number } {
  let writes = 0;
  const counted = Object.create(store) as Store;
  counted.advanceWatermarks = (updates: WatermarkUpdate[]) => {
    writes++;
    return store.advanceWatermarks(updates);
  };
  return { store: counted, writes: () => writes };
}

/** One receipt every `everyMs` from a different member, the stream `count` long; resolves with what each got. */
async function stream(advance: ReturnType<typeof createWatermarkBatcher>['advance'], seq: number, count: number, everyMs: number) {
  const results: Promise<(number | false)[]>[] = [];
  for (let i = 0; i < count; i++) {
    results.push(advance([{ conversationId, userId: MEMBERS[i % MEMBERS.length]!, type: 'delivered', seq }]));
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return (await Promise.all(results)).map(([stored]) => stored);
}

describe('receipt batcher linger', () => {
  it('a lone receipt after a quiet spell is written at once', async () => {
    const { store: s, writes } = counting();
    const batcher = createWatermarkBatcher(s, { lingerMs: 10_000 });
    const started = performance.now();
    expect(await batcher.advance([{ conversationId, userId: 'owner', type: 'read', seq: 1 }])).toEqual([1]);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(writes()).toBe(1);
  });

  it('a steady stream is written at most once per lingerMs; without the linger, about once per receipt', async () => {
    const lingered = counting();
    const started = performance.now();
    const got = await stream(createWatermarkBatcher(lingered.store, { lingerMs: 100 }).advance, 2, 40, 5);
    const elapsed = performance.now() - started;
    expect(got).toEqual(MEMBERS.map(() => 2));
    const eager = counting();
    const gotEager = await stream(createWatermarkBatcher(eager.store, { lingerMs: 0 }).advance, 3, 40, 5);
    expect(gotEager).toEqual(MEMBERS.map(() => 3));
    // 40 receipts over ≥ 200 ms: with a 100 ms linger at most a write per 100 ms, plus the first.
    expect(lingered.writes()).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1);
    expect(eager.writes()).toBeGreaterThan(lingered.writes() * 2);
  });
});
