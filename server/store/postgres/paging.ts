// Keyset paging helpers: the adapter's cursors and the seq ranges a history page may read.
import { decodeCursor, InvalidArgumentStoreError, type Period } from '../store.js';
import { MAX_SEQ } from './sql.js';

/** listMembers: the last user id of the page. */
export const isMembersCursor = (v: unknown): v is [string] => Array.isArray(v) && v.length === 1 && typeof v[0] === 'string';
/** listConversations: activity (µs since the epoch) and id of the page's last row. */
export const isListCursor = (v: unknown): v is [number, string] =>
  Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string';

/** Decodes an optional cursor; a malformed one is the caller's error. */
export function cursorOf<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined) return undefined;
  const value = decodeCursor(cursor, check);
  if (value === undefined) throw new InvalidArgumentStoreError('malformed cursor');
  return value;
}

/** The seq ranges `lo < seq <= hi` a page may read: periods clipped to before/after, merged. */
export function visibleRanges(periods: Period[], before?: number, after?: number): [number, number][] {
  const ranges = periods
    .map((p): [number, number] => [
      Math.max(p.afterSeq, after ?? 0),
      Math.min(p.untilSeq ?? MAX_SEQ, before !== undefined ? Math.ceil(before) - 1 : MAX_SEQ),
    ])
    .filter(([lo, hi]) => hi > lo)
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}
