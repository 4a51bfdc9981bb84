import { describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { mergeSyncPage } from './sync-merge.js';

const msg = (seq: number, updatedSeq?: number): Message => ({
  id: `c-${seq}`,
  conversationId: 'c',
  seq,
  senderId: 'u',
  clientMsgId: `m${seq}`,
  kind: 'text',
  text: 't',
  createdAt: '2026-01-01T00:00:00.000Z',
  ...(updatedSeq !== undefined ? { updatedSeq } : {}),
});

/** Everything a client gets paging from `after` with `limit`, as a store would answer. */
function syncAll(log: Message[], after: number, limit: number): Message[] {
  const got: Message[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const changed = log.filter((m) => (m.updatedSeq ?? 0) > after).sort((a, b) => a.updatedSeq! - b.updatedSeq!).slice(0, limit + 1);
    let page: ReturnType<typeof mergeSyncPage> = null;
    for (let from = after; !page; ) {
      const fresh = log.filter((m) => m.seq > from).sort((a, b) => a.seq - b.seq).slice(0, limit + 1);
      const unchangedCoverage = fresh.length > limit ? fresh.at(-1)!.seq : null;
      page = mergeSyncPage({ unchanged: fresh.filter((m) => m.updatedSeq === undefined), unchangedCoverage, changed }, limit);
      from = unchangedCoverage ?? from;
    }
    expect(page.messages.length).toBeLessThanOrEqual(limit);
    got.push(...page.messages);
    if (!page.hasMore) return got;
    after = Math.max(...page.messages.map((m) => m.updatedSeq ?? m.seq));
  }
  throw new Error('no end');
}

describe('mergeSyncPage', () => {
  it('returns new and changed messages once each, in seq order, without duplicates', () => {
    const page = mergeSyncPage({ unchanged: [msg(6)], unchangedCoverage: null, changed: [msg(2, 7), msg(5, 9)] }, 10);
    expect(page).toEqual({ messages: [msg(2, 7), msg(5, 9), msg(6)], hasMore: false });
  });

  it('paging from the highest seq or updatedSeq returned misses no change, whatever the limit', () => {
    // seqs 1..20 are messages; 21..30 change messages 1..10 in reverse order.
    const log = Array.from({ length: 20 }, (_, i) => msg(i + 1, i < 10 ? 30 - i : undefined));
    for (const limit of [1, 2, 3, 7, 50]) {
      const got = syncAll(log, 0, limit);
      expect(new Set(got.map((m) => m.id)).size).toBe(20);
      const fromMiddle = syncAll(log, 22, limit);
      expect(fromMiddle.map((m) => m.seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });
});
