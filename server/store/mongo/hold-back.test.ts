// Regression: on MongoDB a reader could see seq n+1 while n was still being inserted, and a
// client syncing "after the highest seq seen" then skipped n for good.
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../protocol/index.js';
import { holdBackPastInFlightGap, IN_FLIGHT_HOLD_BACK_MS } from './mongo.store.js';

const NOW = Date.parse('2026-01-01T00:00:10Z');
const msg = (seq: number, ageMs: number): Message => ({
  id: `m${seq}`,
  conversationId: 'c',
  seq,
  senderId: 'u',
  clientMsgId: `k${seq}`,
  kind: 'text',
  text: 'x',
  createdAt: new Date(NOW - ageMs).toISOString(),
});
const open = [{ afterSeq: 0, untilSeq: null }];

describe('holdBackPastInFlightGap', () => {
  it('stops before a gap when the message after it is fresh', () => {
    const page = [msg(1, 100), msg(2, 50), msg(4, 10), msg(5, 5)];
    expect(holdBackPastInFlightGap(page, 0, open, NOW).map((m) => m.seq)).toEqual([1, 2]);
  });

  it('lets an old gap (a failed insert) through', () => {
    const page = [msg(1, 60_000), msg(3, IN_FLIGHT_HOLD_BACK_MS + 1)];
    expect(holdBackPastInFlightGap(page, 0, open, NOW).map((m) => m.seq)).toEqual([1, 3]);
  });

  it('ignores gaps that lie outside the caller’s membership periods', () => {
    const periods = [
      { afterSeq: 0, untilSeq: 2 },
      { afterSeq: 5, untilSeq: null },
    ];
    const page = [msg(1, 10), msg(2, 10), msg(6, 10), msg(7, 10)];
    expect(holdBackPastInFlightGap(page, 0, periods, NOW).map((m) => m.seq)).toEqual([1, 2, 6, 7]);
  });

  it('holds back the first message when the gap is right after the cursor', () => {
    expect(holdBackPastInFlightGap([msg(3, 10)], 1, open, NOW)).toEqual([]);
  });
});
