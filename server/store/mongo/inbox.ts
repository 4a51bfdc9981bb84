// A user's conversation list: most recently active first, with role, unread count and the last
// message the user may see.
//
// Cost for a user in k conversations, page size n:
//   1. the user's open periods → conversation ids: covered scan of `memberships.user_open`
//      (k index keys, no documents);
//   2. `conversations` with `_id $in` those ids, keyset on (lastActivityAt, _id), sorted, n+1:
//      k point lookups on `_id` and a top-(n+1) sort in memory;
//   3. the periods of the page's n conversations: `memberships.periods`;
//   4. per page row, in parallel: the last visible message (one backwards step on
//      `messages.conversation_seq`) and the unread count (range `seq > readSeq` on
//      `messages.unread`, covered: index keys only, stopping at 9,999).
//      At most ROW_CONCURRENCY rows at a time, so one large page cannot drain the pool.
// Only step 2 grows with k (a few ms per thousand conversations). Putting lastActivityAt on
// every membership would make it O(n), at the price of one write per member per message.
import type { Types } from 'mongoose';
import { encodeCursor, parseCursor, UNREAD_CAP, visibleRanges, type SeqRange } from '../shared.js';
import type { ConversationSummary, Page } from '../store.js';
import { assertUserIds, toConversation, toMembership, toMessage, toPeriod } from './mappers.js';
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

/** `{ seq: … }` for one range, or `$or` over several; null when nothing is visible. */
export function seqFilter(ranges: SeqRange[]): Record<string, unknown> | null {
  const one = (r: SeqRange) => ({ seq: op(r.lte === null ? { $gt: r.gt } : { $gt: r.gt, $lte: r.lte }) });
  if (ranges.length === 0) return null;
  if (ranges.length === 1) return one(ranges[0]!);
  return { $or: ranges.map(one) };
}

export async function listConversations(
  models: Models,
  userId: string,
  opts: { limit: number; cursor?: string },
): Promise<Page<ConversationSummary>> {
  const after = parseCursor(opts.cursor, isInboxCursor);
  assertUserIds([userId]);
  const limit = Math.max(1, Math.floor(opts.limit));

  const open = await models.Membership.find({ userId, open: true }, { conversationId: 1, _id: 0 }).lean<
    { conversationId: Types.ObjectId }[]
  >();
  if (open.length === 0) return { items: [] };

  const keyset = after
    ? {
        $or: [
          { lastActivityAt: op({ $lt: new Date(after.t) }) },
          { lastActivityAt: new Date(after.t), _id: op({ $lt: after.id }) },
        ],
      }
    : {};
  const convs = await models.Conversation.find({ _id: op({ $in: open.map((m) => m.conversationId) }), ...keyset })
    .sort({ lastActivityAt: -1, _id: -1 })
    .limit(limit + 1)
    .lean<ConversationDoc[]>();
  const page = convs.slice(0, limit);
  if (page.length === 0) return { items: [] };

  const periods = await models.Membership.find({ userId, conversationId: op({ $in: page.map((c) => c._id) }) })
    .sort({ joinedSeq: 1, joinedAt: 1 })
    .lean<MembershipDoc[]>();
  const byConversation = new Map<string, MembershipDoc[]>();
  for (const p of periods) {
    const key = p.conversationId.toHexString();
    byConversation.set(key, [...(byConversation.get(key) ?? []), p]);
  }

  const rows = await mapLimit(
    page,
    ROW_CONCURRENCY,
    async (conv): Promise<ConversationSummary | null> => {
      const mine = byConversation.get(conv._id.toHexString()) ?? [];
      const current = mine.find((p) => p.open);
      if (!current) return null; // left between steps 1 and 3
      const visible = seqFilter(visibleRanges(mine.map(toPeriod)));
      const readSeq = Math.max(current.readSeq, current.joinedSeq);
      const [last, unread] = await Promise.all([
        visible
          ? models.Message.findOne({ conversationId: conv._id, ...visible, kind: op({ $ne: GAP_KIND }) }).sort({ seq: -1 }).lean<MessageDoc>()
          : null,
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
