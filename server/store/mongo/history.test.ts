// Which seqs an ascending page must close before it may be returned (history.ts).
import { describe, expect, it } from 'vitest';
import { visibleRanges } from '../shared.js';
import { missingSeqs } from './history.js';

describe('missingSeqs', () => {
  const open = visibleRanges([{ afterSeq: 0, untilSeq: null }], { after: 2 });

  it('lists the unfilled seqs between the cursor and the last document, not after it', () => {
    expect(missingSeqs([5, 6, 9], open, 100)).toEqual([3, 4, 7, 8]);
    expect(missingSeqs([3, 4], open, 100)).toEqual([]);
    expect(missingSeqs([], open, 100)).toEqual([]);
  });

  it('ignores seqs outside the reader’s membership periods', () => {
    const periods = visibleRanges([{ afterSeq: 0, untilSeq: 4 }, { afterSeq: 8, untilSeq: null }], { after: 1 });
    expect(missingSeqs([3, 10], periods, 100)).toEqual([2, 4, 9]);
  });

  it('stops at the cap, lowest first', () => {
    expect(missingSeqs([1_000], open, 3)).toEqual([3, 4, 5]);
  });
});
