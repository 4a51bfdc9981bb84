// History and sync over a reader's membership periods, however many leave/rejoin cycles they
// have (PROTOCOL.md §7). Reading every period and asking for "seq in any of them" makes one
// query arm per period (UNION ALL in PostgreSQL, $or in MongoDB): tens of thousands of periods
// reach PostgreSQL's bind-parameter limit. Periods of one user are disjoint and ordered by seq,
// so a page is filled from the periods nearest it, a batch at a time (periodsPerRead): the
// nearest in the page's direction, then, only if the page is not full, the next ones past them.
import type { Message } from '../../protocol/index.js';
import type { Store } from './store.js';

/**
 * Periods per read: as many as the page has messages (a period the reader saw usually holds at
 * least one: the "joined" notice), so one read of each kind usually fills it; at most 201 query
 * arms (404 bind parameters in PostgreSQL), at least 16.
 */
export const periodsPerRead = (limit: number): number => Math.min(Math.max(Math.ceil(limit), 16), 201);

export interface VisiblePageQuery {
  conversationId: string;
  userId: string;
  /** Oldest first, seq > after. */
  after?: number;
  /** Newest first, seq < before (ignored with `after`). */
  before?: number;
  limit: number;
}

/**
 * A page of the messages `userId` may see, as `store.pageMessages` would return it given all of
 * their periods. Reads one batch of periods when the nearest periods fill the page (the usual
 * case), one more batch per batch of periods that held too few messages.
 */
export async function pageVisibleMessages(store: Store, q: VisiblePageQuery, perRead = periodsPerRead(q.limit)): Promise<Message[]> {
  const ascending = q.after !== undefined;
  const out: Message[] = [];
  let bound = ascending ? { after: q.after! } : q.before !== undefined ? { before: q.before } : {};
  for (;;) {
    const periods = await store.listPeriods(q.conversationId, q.userId, { ...bound, limit: perRead });
    if (periods.length === 0) return out;
    const page = await store.pageMessages({ conversationId: q.conversationId, periods, ...bound, limit: q.limit - out.length });
    out.push(...page);
    if (out.length >= q.limit || periods.length < perRead) return out;
    // Past the last period read: the next batch starts where it ends.
    const last = periods[periods.length - 1]!;
    if (ascending) {
      if (last.untilSeq === null) return out;
      bound = { after: Math.max(bound.after ?? 0, last.untilSeq) };
    } else {
      bound = { before: last.afterSeq + 1 };
    }
  }
}
