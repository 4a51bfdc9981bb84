// History pages, and the gaps an ascending page must not skip.
//
// A seq is reserved (`$inc` on the conversation) before its message is inserted, with no
// transaction around the two, so seqs can be unfilled: for a moment (an insert in flight) or for
// good (a repeat that lost the race, a batch that failed after reserving, a failed insert, a
// step-down in between). A client syncing "after the highest seq I have" must never be handed
// n+1 while n may still appear. Instead of guessing from timestamps which gaps are still in
// flight, a reader closes every gap below the last message it returns: it inserts a placeholder
// (kind `gap`) at that seq. The unique `(conversationId, seq)` index decides: either the
// placeholder lands and the seq is filled for good (a writer still holding it gets a duplicate
// key and takes a fresh, higher seq, which the reader will see on its next page), or the real
// message was there first and the page is read again. No clock is involved.
//
// Placeholders are never returned: every read of messages filters `kind: 'gap'` out.
import { Types } from 'mongoose';
import type { Message } from '../../../protocol/index.js';
import { visibleRanges, type SeqRange } from '../shared.js';
import { StoreUnavailableError, type MessagePageQuery } from '../store.js';
import { insertSkippingDuplicates } from './errors.js';
import { seqFilter } from './inbox.js';
import { parseId, toMessage } from './mappers.js';
import { GAP_KIND, type MessageDoc, type Models } from './models.js';

/** Placeholders written per round, and rounds per page before giving up with UNAVAILABLE. */
const MAX_GAPS_PER_ROUND = 1_000;
const MAX_ROUNDS = 5;

const isReal = (d: Pick<MessageDoc, 'kind'>): boolean => d.kind !== GAP_KIND;

export async function pageMessages(models: Models, q: MessagePageQuery): Promise<Message[]> {
  const id = parseId(q.conversationId);
  const limit = Math.floor(q.limit);
  if (!id || !(limit > 0)) return [];
  const ascending = q.after !== undefined;
  const ranges = visibleRanges(q.periods, q);
  if (ranges.length === 0) return [];
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const docs = await fetchPage(models, id, q, ascending, limit);
    const missing = ascending ? missingSeqs(docs.map((d) => d.seq), ranges, MAX_GAPS_PER_ROUND) : [];
    if (missing.length === 0) return docs.filter(isReal).map(toMessage);
    await closeGaps(models, id, missing);
  }
  throw new StoreUnavailableError(`conversation ${q.conversationId}: gaps in the seq range kept reopening, retry`);
}

/**
 * Up to `limit` real messages in page order, with the placeholders among them; asks again past
 * placeholders so they never make a page look shorter than it is.
 */
async function fetchPage(models: Models, id: Types.ObjectId, q: MessagePageQuery, ascending: boolean, limit: number): Promise<MessageDoc[]> {
  const out: MessageDoc[] = [];
  let real = 0;
  let bounds: { after?: number; before?: number } = { ...(q.after !== undefined && { after: q.after }), ...(q.before !== undefined && { before: q.before }) };
  for (;;) {
    const visible = seqFilter(visibleRanges(q.periods, bounds));
    if (!visible) return out;
    const want = limit - real;
    const docs = await models.Message.find({ conversationId: id, ...visible })
      .sort({ seq: ascending ? 1 : -1 })
      .limit(want)
      .lean<MessageDoc[]>();
    for (const d of docs) {
      out.push(d);
      if (isReal(d)) real++;
    }
    if (docs.length < want || real >= limit) return out;
    const last = docs[docs.length - 1]!.seq;
    bounds = ascending ? { ...bounds, after: last } : { ...bounds, before: last };
  }
}

/**
 * Seqs inside `ranges` and below the highest of `seqs` (ascending) that hold no document:
 * the gaps a reader would skip. At most `max` of them, lowest first.
 */
export function missingSeqs(seqs: number[], ranges: SeqRange[], max: number): number[] {
  if (seqs.length === 0) return [];
  const present = new Set(seqs);
  const top = seqs[seqs.length - 1]!;
  const out: number[] = [];
  for (const r of ranges) {
    for (let s = r.gt + 1; s < top && (r.lte === null || s <= r.lte); s++) {
      if (!present.has(s)) out.push(s);
      if (out.length >= max) return out;
    }
  }
  return out;
}

export function placeholder(conversationId: Types.ObjectId, seq: number, now: Date): MessageDoc {
  // senderId '' is no user (ids are never empty), so the idempotency key cannot collide.
  return { _id: new Types.ObjectId(), conversationId, seq, senderId: '', clientMsgId: `gap:${seq}`, kind: GAP_KIND, createdAt: now };
}

/** Fills the seqs with placeholders; a seq whose real message landed first is left to it. */
async function closeGaps(models: Models, conversationId: Types.ObjectId, seqs: number[]): Promise<void> {
  const now = new Date();
  await insertSkippingDuplicates(models.Message.collection, seqs.map((s) => placeholder(conversationId, s, now)));
}
