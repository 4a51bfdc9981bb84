// The helpers both store adapters share: pure functions, so plain unit tests.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentStoreError, type NewConversation } from './store.js';
import { checkNewConversation, encodeCursor, firstOccurrences, membersCursor, parseCursor, visibleRanges } from './shared.js';

describe('visibleRanges', () => {
  const periods = [
    { afterSeq: 10, untilSeq: null },
    { afterSeq: 0, untilSeq: 5 },
    { afterSeq: 5, untilSeq: 7 },
  ];

  it('sorts, merges touching periods and leaves an open period unbounded', () => {
    expect(visibleRanges(periods)).toEqual([
      { gt: 0, lte: 7 },
      { gt: 10, lte: null },
    ]);
  });

  it('clips to after < seq < before and drops what is left empty', () => {
    expect(visibleRanges(periods, { after: 3, before: 12 })).toEqual([
      { gt: 3, lte: 7 },
      { gt: 10, lte: 11 },
    ]);
    expect(visibleRanges(periods, { before: 11 })).toEqual([{ gt: 0, lte: 7 }]);
    expect(visibleRanges(periods, { after: 10 })).toEqual([{ gt: 10, lte: null }]);
    expect(visibleRanges(periods, { after: 7, before: 11 })).toEqual([]);
    expect(visibleRanges([{ afterSeq: 4, untilSeq: 4 }])).toEqual([]);
  });

  it('merges an overlap into an open period', () => {
    expect(visibleRanges([{ afterSeq: 3, untilSeq: null }, { afterSeq: 0, untilSeq: 5 }])).toEqual([{ gt: 0, lte: null }]);
  });
});

describe('checkNewConversation', () => {
  const base: NewConversation = { type: 'group', createdBy: 'a', public: false, members: [] };

  it('requires the creator among the members', () => {
    expect(() => checkNewConversation({ ...base, members: [{ userId: 'b', role: 'owner' }] })).toThrow(InvalidArgumentStoreError);
    expect(() => checkNewConversation({ ...base })).toThrow(/creator/);
  });

  it('keeps the first of repeated members and keys a direct pair the same either way round', () => {
    const group = checkNewConversation({ ...base, members: [{ userId: 'a', role: 'owner' }, { userId: 'b', role: 'member' }, { userId: 'a', role: 'member' }] });
    expect(group).toEqual({ members: [{ userId: 'a', role: 'owner' }, { userId: 'b', role: 'member' }] });
    const ab = checkNewConversation({ ...base, type: 'direct', members: [{ userId: 'a', role: 'member' }, { userId: 'b', role: 'member' }] });
    const ba = checkNewConversation({ ...base, type: 'direct', createdBy: 'b', members: [{ userId: 'b', role: 'member' }, { userId: 'a', role: 'member' }] });
    expect(ab.directKey).toBeDefined();
    expect(ab.directKey).toBe(ba.directKey);
    expect(() => checkNewConversation({ ...base, type: 'direct', members: [{ userId: 'a', role: 'member' }, { userId: 'a', role: 'member' }] })).toThrow(/two members/);
  });
});

describe('cursors', () => {
  it('round-trips and refuses anything malformed, the empty string included', () => {
    expect(membersCursor.parse(membersCursor.encode('u-1'))).toBe('u-1');
    expect(membersCursor.parse(undefined)).toBeUndefined();
    for (const bad of ['', '%%%', encodeCursor({ u: 'x' }), encodeCursor([1])]) {
      expect(() => membersCursor.parse(bad), bad).toThrow(InvalidArgumentStoreError);
    }
    expect(() => parseCursor('bm90IGpzb24', (v): v is unknown => true)).toThrow(InvalidArgumentStoreError);
  });
});

describe('firstOccurrences', () => {
  it('maps each idempotency key to its first index; the sender is part of the key', () => {
    const m = (senderId: string, clientMsgId: string) => ({ conversationId: 'c', senderId, clientMsgId, kind: 'text' as const });
    expect([...firstOccurrences([m('a', '1'), m('b', '1'), m('a', '1'), m('a', '2')]).values()]).toEqual([0, 1, 3]);
  });
});
