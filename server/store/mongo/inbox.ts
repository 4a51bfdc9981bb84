// A user's conversation list: most recently active first, with role, unread count and the last
// message the user may see.
//
// Cost for a user in k conversations, page size n:
//   1. the user's open periods → conversation ids: covered scan of `memberships.user_open`
//      (k index keys, no documents), IDS_PER_READ at a time (keyset on conversationId);
//   2. per chunk, `conversations` with `_id $in` its ids, keyset on (lastActivityAt, _id),
//      sorted, n+1: point lookups on `_id` and a top-(n+1) sort; the chunks' tops are merged;
//   3. the open periods of the page's n conversations: `memberships.user_open`;
//   4. per page row, in parallel: the last visible message (one backwards step on
//      `messages.conversation_seq` in the open period; only if that holds none, the 16 periods
//      before it) and the unread count (range `seq > readSeq` on
//      `messages.unread`, covered: index keys only, stopping at 9,999).
//      At most ROW_CONCURRENCY rows at a time, so one large page cannot drain the pool.
// Only steps 1–2 grow with k (a few ms per thousand conversations), in chunks of 1,000 ids. Putting lastActivityAt on
// every membership would make it O(n), at the price of one write per member per message.
import type { Types } from 'mongoose';
import { encodeCursor, parseCursor, UNREAD_CAP, visibleRanges, type SeqRange } from '../shared.js';
import type { ConversationSummary, Page } from '../store.js';
import { assertUserIds, toConversation, toMembership, toMessage } from './mappers.js';
import { listPeriods } from './memberships.js';
import { GAP_KIND, op, type ConversationDoc, type MembershipDoc, type MessageDoc, type Models } from './models.js';

/**
 * Rows of one page computed at a time (2 queries each): a page of 200 must not take the whole
 * connection pool (100 by default) from every other request on the node.
 */
const ROW_CONCURRENCY = 16;

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

interface InboxCursor {
  /** lastActivityAt of the last row, epoch ms. */
  t: number;
  /** Conversation id of the last row (tie-break). */
  id: string;
}

const isInboxCursor = (v: unknown): v is InboxCursor =>
  typeof v === 'object' &&
  v !== null &&
  Number.isFinite((v as InboxCursor).t) &&
  typeof (v as InboxCursor).id === 'string' &&
  /^[0-9a-f]{24}$/.test((v as InboxCursor).id);

/** Periods read for the last visible message when the open one holds none (no message since the join). */
const EARLIER_PERIODS = 16;

/**
 * The newest message the user may see: in the open period, else in the EARLIER_PERIODS before it
 * (a user whose last 16 periods hold nothing shows no last message rather than cost more).
 */
async function lastVisible(models: Models, id: Types.ObjectId, userId: string, open: MembershipDoc): Promise<MessageDoc | null> {
  const newest = (ranges: SeqRange[]) => {
    const visible = seqFilter(ranges);
    return visible ? models.Message.findOne({ conversationId: id, ...visible, kind: op({ $ne: GAP_KIND }) }).sort({ seq: -1 }).lean<MessageDoc>() : null;
  };
  const inOpen = await newest([{ gt: open.joinedSeq, lte: null }]);
  if (inOpen) return inOpen;
  const earlier = await listPeriods(models, id.toHexString(), userId, { before: open.joinedSeq + 1, limit: EARLIER_PERIODS });
  return earlier.length ? newest(visibleRanges(earlier)) : null;
}

/** `{ seq: … }` for one range, or `$or` over several; null when nothing is visible. */
export function seqFilter(ranges: SeqRange[]): Record<string, unknown> | null {
  const one = (r: SeqRange) => ({ seq: op(r.lte === null ? { $gt: r.gt } : { $gt: r.gt, $lte: r.lte }) });
  if (ranges.length === 0) return null;
  if (ranges.length === 1) return one(ranges[0]!);
  return { $or: ranges.map(one) };
}

/** Conversation ids read per query in steps 1–2: no query carries all 10,000 of a user's. */
const IDS_PER_READ = 1_000;

/** Most recently active first, then by id descending (the keyset's order). */
const byActivity = (a: ConversationDoc, b: ConversationDoc): number =>
  b.lastActivityAt.getTime() - a.lastActivityAt.getTime() || (a._id.toHexString() < b._id.toHexString() ? 1 : a._id.equals(b._id) ? 0 : -1);

export async function listConversations(
  models: Models,
  userId: string,
  opts: { limit: number; cursor?: string },
  idsPerRead = IDS_PER_READ,
): Promise<Page<ConversationSummary>> {
  const after = parseCursor(opts.cursor, isInboxCursor);
  assertUserIds([userId]);
  const limit = Math.max(1, Math.floor(opts.limit));

  const keyset = after
    ? {
        $or: [
          { lastActivityAt: op({ $lt: new Date(after.t) }) },
          { lastActivityAt: new Date(after.t), _id: op({ $lt: after.id }) },
        ],
      }
    : {};
  // Steps 1 and 2 a chunk of ids at a time: the best n+1 of each chunk, merged.
  let convs: ConversationDoc[] = [];
  let afterId: Types.ObjectId | undefined;
  for (;;) {
    const ids = await models.Membership.find(
      { userId, open: true, ...(afterId && { conversationId: op({ $gt: afterId }) }) },
      { conversationId: 1, _id: 0 },
    )
      .sort({ conversationId: 1 })
      .limit(idsPerRead)
      .lean<{ conversationId: Types.ObjectId }[]>();
    if (ids.length === 0) break;
    const best = await models.Conversation.find({ _id: op({ $in: ids.map((m) => m.conversationId) }), ...keyset })
      .sort({ lastActivityAt: -1, _id: -1 })
      .limit(limit + 1)
      .lean<ConversationDoc[]>();
    convs = [...convs, ...best].sort(byActivity).slice(0, limit + 1);
    if (ids.length < idsPerRead) break;
    afterId = ids[ids.length - 1]!.conversationId;
  }
  const page = convs.slice(0, limit);
  if (page.length === 0) return { items: [] };

  // Only the open periods: a user with thousands of leave/rejoin cycles costs no more (§7).
  const current = await models.Membership.find({ userId, open: true, conversationId: op({ $in: page.map((c) => c._id) }) }).lean<MembershipDoc[]>();
  const byConversation = new Map(current.map((p) => [p.conversationId.toHexString(), p]));

  const rows = await mapLimit(
    page,
    ROW_CONCURRENCY,
    async (conv): Promise<ConversationSummary | null> => {
      const current = byConversation.get(conv._id.toHexString());
      if (!current) return null; // left between steps 1 and 3
      const readSeq = Math.max(current.readSeq, current.joinedSeq);
      const [last, unread] = await Promise.all([
        lastVisible(models, conv._id, userId, current),
        conv.lastSeq > readSeq
          ? models.Message.countDocuments(
              { conversationId: conv._id, seq: op({ $gt: readSeq }), kind: op({ $nin: ['system', GAP_KIND] }), senderId: op({ $ne: userId }) },
              { limit: UNREAD_CAP, hint: 'unread' },
            )
          : 0,
      ]);
      return {
        conversation: toConversation(conv),
        role: toMembership(current).role,
        unread,
        ...(last ? { lastMessage: toMessage(last) } : {}),
      };
    },
  );

  const items = rows.filter((r): r is ConversationSummary => r !== null);
  const tail = page[page.length - 1]!;
  return convs.length > limit
    ? { items, nextCursor: encodeCursor({ t: tail.lastActivityAt.getTime(), id: tail._id.toHexString() } satisfies InboxCursor) }
    : { items };
}
