// The stream's ordering rules against an in-memory log standing in for the server's sync
// (the real server is in server/test/client-stream.int.test.ts).
import { describe, expect, it } from 'vitest';
import type { Message } from '../../protocol/index.js';
import { ClientError } from './errors.js';
import { ConversationStream, type Discontinuity } from './stream.js';

const msg = (seq: number): Message => ({
  id: `m${seq}`,
  conversationId: 'c1',
  seq,
  senderId: 'u',
  clientMsgId: `k${seq}`,
  kind: 'text',
  text: `t${seq}`,
  createdAt: new Date(0).toISOString(),
});

function setup(opts: { log?: number[]; gapWaitMs?: number; fail?: ClientError; ordered?: boolean } = {}) {
  const log = (opts.log ?? []).map(msg);
  const got: number[] = [];
  const vias: string[] = [];
  const caughtUp: boolean[] = [];
  const ends: Discontinuity[] = [];
  const syncs: number[] = [];
  let online = true;
  const stream = new ConversationStream(
    'c1',
    0,
    {
      sync: async (_id, afterSeq) => {
        syncs.push(afterSeq);
        if (opts.fail) throw opts.fail;
        const after = log.filter((m) => m.seq > afterSeq);
        return { messages: after.slice(0, 2), hasMore: after.length > 2 }; // pages of 2
      },
      isOnline: () => online,
      gapWaitMs: opts.gapWaitMs ?? 20,
      backoff: { minMs: 10, maxMs: 10 },
      ordered: opts.ordered ?? true,
    },
    { onMessage: (m, via) => (got.push(m.seq), vias.push(via)), onCaughtUp: (v) => caughtUp.push(v), onDiscontinuity: (d) => ends.push(d) },
  );
  const settled = () => new Promise<void>((r) => setTimeout(r, 0));
  return { stream, log, got, vias, caughtUp, ends, syncs, settled, setOnline: (v: boolean) => (online = v) };
}

describe('ConversationStream', () => {
  it('syncs from the start page by page, then is caught up', async () => {
    const s = setup({ log: [1, 2, 4, 7, 8] });
    await s.stream.sync();
    expect(s.got).toEqual([1, 2, 4, 7, 8]);
    expect(s.syncs).toEqual([0, 2, 7]);
    expect(s.caughtUp).toEqual([true]);
  });

  it('buffers live messages until contiguous, drops repeats', async () => {
    const s = setup({ gapWaitMs: 10_000 });
    await s.stream.sync();
    for (const seq of [3, 1, 1, 2, 3, 5, 4, 2]) s.stream.live(msg(seq));
    expect(s.got).toEqual([1, 2, 3, 4, 5]);
    expect(s.syncs).toEqual([0]); // no gap lasted: no extra sync
    s.stream.close();
  });

  it('a gap that never fills (an unused seq) is closed by a sync after gapWaitMs; the stream does not stall', async () => {
    const s = setup({ log: [1, 3, 4] }); // seq 2 was never stored
    s.stream.live(msg(1));
    s.stream.live(msg(3));
    s.stream.live(msg(4));
    expect(s.got).toEqual([1]);
    await new Promise((r) => setTimeout(r, 60));
    await s.settled();
    expect(s.got).toEqual([1, 3, 4]);
    expect(s.syncs).toEqual([1]);
    expect(s.caughtUp.at(-1)).toBe(true);
  });

  it('after a drop it is not caught up until the reconnection sync, which fetches what was missed', async () => {
    const s = setup({ log: [1, 2, 3] });
    await s.stream.sync();
    s.setOnline(false);
    s.stream.offline();
    s.log.push(msg(4), msg(5));
    await s.stream.sync(); // offline: nothing
    expect(s.caughtUp).toEqual([true, false]);
    s.setOnline(true);
    await s.stream.sync();
    expect(s.got).toEqual([1, 2, 3, 4, 5]);
    expect(s.caughtUp).toEqual([true, false, true]);
  });

  it('a range the server refuses for good ends the stream with a discontinuity, never a silent hole', async () => {
    const s = setup({ fail: new ClientError({ code: 'NOT_FOUND', message: 'no such conversation' }) });
    s.stream.lastSeq = 41;
    await s.stream.sync();
    expect(s.ends).toEqual([{ conversationId: 'c1', afterSeq: 41, code: 'NOT_FOUND', message: 'NOT_FOUND: no such conversation' }]);
    s.stream.live(msg(42));
    expect(s.got).toEqual([]);
  });

  it('a transient sync failure retries after a back-off instead of ending', async () => {
    const s = setup({ fail: new ClientError({ code: 'UNAVAILABLE', message: 'store down' }) });
    await s.stream.sync();
    await new Promise((r) => setTimeout(r, 40));
    expect(s.syncs.length).toBeGreaterThan(1);
    expect(s.ends).toEqual([]);
    s.stream.close();
  });

  it('unordered: every arrival at once, repeats and out-of-order included; the sync pages on from each page, not from a later live arrival', async () => {
    const s = setup({ log: [1, 2, 3, 4, 5, 6], gapWaitMs: 10, ordered: false });
    for (const seq of [2, 1, 2]) s.stream.live(msg(seq));
    expect(s.got).toEqual([2, 1, 2]);
    expect(s.stream.lastSeq).toBe(2);
    const syncing = s.stream.sync(); // pages of 2 from seq 2
    s.stream.live(msg(6)); // a live arrival while the sync runs must not make it skip 3..5
    await syncing;
    await new Promise((r) => setTimeout(r, 30));
    expect(s.got).toEqual([2, 1, 2, 6, 3, 4, 5, 6]);
    expect(s.vias).toEqual(['live', 'live', 'live', 'live', 'sync', 'sync', 'sync', 'sync']);
    expect(s.syncs).toEqual([2, 4]); // from each page's end; no gap sync: nothing is buffered
    expect(s.stream.lastSeq).toBe(6);
  });
});

describe('ConversationStream changes (PROTOCOL.md §9)', () => {
  it('hands a live change of a delivered message to onUpdate, and one of a message not seen yet to onMessage in its current state', async () => {
    const updates: Message[] = [];
    const got: Message[] = [];
    const stream = new ConversationStream(
      'c1',
      0,
      { sync: async () => ({ messages: [], hasMore: false }), isOnline: () => true, gapWaitMs: 1_000, backoff: { minMs: 10, maxMs: 10 }, ordered: true },
      { onMessage: (m) => got.push(m), onUpdate: (m) => updates.push(m) },
    );
    stream.live(msg(1));
    stream.updated({ ...msg(1), text: 'edited', updatedSeq: 3 });
    stream.updated({ ...msg(2), text: 'edited', updatedSeq: 4 });
    stream.live(msg(2));
    expect(updates.map((m) => [m.seq, m.text])).toEqual([[1, 'edited']]);
    expect(got.map((m) => [m.seq, m.text])).toEqual([[1, 't1'], [2, 'edited']]);
    stream.close();
  });

  it('hands changed messages a sync returns below lastSeq to onUpdate', async () => {
    const updates: number[] = [];
    const stream = new ConversationStream(
      'c1',
      5,
      { sync: async () => ({ messages: [{ ...msg(2), updatedSeq: 7 }, msg(6)], hasMore: false }), isOnline: () => true, gapWaitMs: 20, backoff: { minMs: 10, maxMs: 10 }, ordered: true },
      { onMessage: () => {}, onUpdate: (m) => updates.push(m.seq) },
    );
    await stream.sync();
    expect(updates).toEqual([2]);
    expect(stream.lastSeq).toBe(6);
  });
});
