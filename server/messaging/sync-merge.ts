// One `conversation:sync` page (PROTOCOL.md §9) out of two store reads: messages after the
// cursor by seq, and changed messages by `updatedSeq`. A message's place in the log is its latest
// seq, `updatedSeq ?? seq`. The page is every message whose place lies in (afterSeq, cutoff],
// where cutoff is the last place both reads cover, at most `limit` of them; so a client that
// syncs again from the highest seq or updatedSeq it got misses nothing.
import type { Message } from '../../protocol/index.js';

const place = (m: Message): number => m.updatedSeq ?? m.seq;

export interface SyncReads {
  /** Unchanged messages (no updatedSeq) with seq > afterSeq, by seq. */
  unchanged: Message[];
  /** The highest seq the read of messages covered, or null when it reached the end. */
  unchangedCoverage: number | null;
  /** Messages with updatedSeq > afterSeq by updatedSeq, asked with limit + 1. */
  changed: Message[];
}

/** The page in seq order, or null when the messages read so far cannot start one (read further). */
export function mergeSyncPage(reads: SyncReads, limit: number): { messages: Message[]; hasMore: boolean } | null {
  let cutoff = reads.unchangedCoverage ?? Number.POSITIVE_INFINITY;
  if (reads.changed.length > limit) cutoff = Math.min(cutoff, place(reads.changed[limit - 1]!));
  let page = [...reads.unchanged, ...reads.changed.slice(0, limit)].filter((m) => place(m) <= cutoff).sort((a, b) => place(a) - place(b));
  let hasMore = cutoff !== Number.POSITIVE_INFINITY;
  if (page.length === 0 && hasMore) return null;
  if (page.length > limit) {
    page = page.slice(0, limit);
    hasMore = true;
  }
  return { messages: page.sort((a, b) => a.seq - b.seq), hasMore };
}
