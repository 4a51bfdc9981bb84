// Membership periods and receipt watermarks. A period is one document; `open: true` marks the
// current one, and the partial unique index `open_period` allows at most one per
// (conversation, user), so concurrent joins of the same user cannot both open a period.
import { Types } from 'mongoose';
import type { Member, Role } from '../../../protocol/index.js';
import { membersCursor, uniqueMembers } from '../shared.js';
import { NotFoundStoreError, type AddOptions, type Page, type Period, type PeriodRange, type WatermarkUpdate } from '../store.js';
import { checkMemberCap } from './member-cap.js';
import { changeMembership } from './counter.js';
import { assertUserIds, parseId, toMember, toPeriod } from './mappers.js';
import { op, type MembershipDoc, type Models } from './models.js';

export async function addMembers(
  models: Models,
  conversationId: string,
  members: { userId: string; role: Role }[],
  opts: AddOptions = {},
): Promise<string[]> {
  const cid = parseId(conversationId);
  const notFound = () => new NotFoundStoreError(`conversation ${conversationId} not found`);
  if (!cid || !(await models.Conversation.exists({ _id: cid }))) throw notFound();
  const wanted = uniqueMembers(members);
  if (wanted.length === 0) return [];

  // Skip current members up front so the usual case adds everyone it tries; the unique index
  // still decides the races.
  const current = await models.Membership.find(
    { conversationId: cid, open: true, userId: op({ $in: assertUserIds(wanted.map((m) => m.userId)) }) },
    { userId: 1, _id: 0 },
  ).lean<{ userId: string }[]>();
  const isCurrent = new Set(current.map((m) => m.userId));
  const fresh = wanted.filter((m) => !isCurrent.has(m.userId));
  await checkMemberCap(models, fresh.map((m) => m.userId), opts.maxOpenPerUser);
  if (fresh.length === 0) return [];

  // Opened at the counter, ordered against appends (counter.ts); a period that exists under its
  // chosen id afterwards was opened by this call (by us or by whoever helped).
  const join = fresh.map((m) => ({ _id: new Types.ObjectId(), userId: m.userId, role: m.role }));
  const seq = await changeMembership(models, cid, { token: new Types.ObjectId(), at: new Date(), join });
  if (seq === null) throw notFound();
  const landed = await models.Membership.find({ _id: op({ $in: join.map((j) => j._id) }) }, { userId: 1, _id: 0 })
    .readConcern('local')
    .lean<{ userId: string }[]>();
  const added = new Set(landed.map((d) => d.userId));
  return wanted.map((m) => m.userId).filter((u) => added.has(u));
}

type PeriodDoc = Pick<MembershipDoc, 'joinedSeq' | 'leftSeq' | 'open'>;
const PERIOD_FIELDS = { joinedSeq: 1, leftSeq: 1, open: 1, _id: 0 } as const;

/**
 * The user's periods, or with a range the `limit` nearest it (PeriodRange): ranges of the
 * `periods` index, so a user with thousands of leave/rejoin cycles has only the periods around
 * the page read. Ascending starts at the period holding `after`, found by one probe.
 */
export async function listPeriods(models: Models, conversationId: string, userId: string, range?: PeriodRange): Promise<Period[]> {
  const cid = parseId(conversationId);
  if (!cid) return [];
  const find = (joinedSeq: object | undefined, order: 1 | -1) => {
    const query = models.Membership.find({ conversationId: cid, userId, ...(joinedSeq && { joinedSeq: op(joinedSeq) }) }, PERIOD_FIELDS)
      .sort({ joinedSeq: order, joinedAt: order });
    return (range ? query.limit(range.limit) : query).lean<PeriodDoc[]>();
  };
  if (!range) return (await find(undefined, 1)).map(toPeriod);
  if (range.after === undefined) {
    // A period starting at before - 1 or later holds no seq below `before`.
    return (await find(range.before === undefined ? undefined : { $lt: range.before - 1 }, -1)).map(toPeriod);
  }
  const after = range.after;
  const [holding] = await models.Membership.find({ conversationId: cid, userId, joinedSeq: op({ $lte: after }) }, PERIOD_FIELDS)
    .sort({ joinedSeq: -1, joinedAt: -1 })
    .limit(1)
    .lean<PeriodDoc[]>();
  const docs = await models.Membership.find(
    {
      conversationId: cid,
      userId,
      ...(holding && { joinedSeq: op({ $gte: holding.joinedSeq }) }),
      $or: [{ open: true }, { leftSeq: op({ $gt: after }) }],
    },
    PERIOD_FIELDS,
  )
    .sort({ joinedSeq: 1, joinedAt: 1 })
    .limit(range.limit)
    .lean<PeriodDoc[]>();
  return docs.map(toPeriod);
}

/**
 * Whether the user's period that can hold `seq` does: their latest period starting below it
 * (joinedAt breaks a tie of a leave and rejoin with no message between, the later one ending
 * last), one probe of the `periods` index. Periods are ordered and disjoint, so no earlier one can.
 */
export async function periodHolds(models: Models, conversationId: Types.ObjectId, userId: string, seq: number): Promise<boolean> {
  const [latest] = await models.Membership.find({ conversationId, userId, joinedSeq: op({ $lt: seq }) }, PERIOD_FIELDS)
    .sort({ joinedSeq: -1, joinedAt: -1 })
    .limit(1)
    .lean<PeriodDoc[]>();
  return latest !== undefined && (latest.open || (latest.leftSeq ?? -1) >= seq);
}

/** Closes the open period at the counter, ordered against appends (counter.ts). */
export async function removeMember(models: Models, conversationId: string, userId: string): Promise<boolean> {
  const cid = parseId(conversationId);
  if (!cid) return false;
  const open = await models.Membership.findOne({ conversationId: cid, userId, open: true }, { _id: 1 }).lean<{ _id: Types.ObjectId }>();
  if (!open) return false;
  const token = new Types.ObjectId();
  if ((await changeMembership(models, cid, { token, at: new Date(), leave: open._id })) === null) return false;
  // Closed by this call (by us or a helper), or by a concurrent removal of the same period?
  const closed = await models.Membership.findOne({ _id: open._id }, { closedBy: 1, _id: 0 }).readConcern('local').lean<{ closedBy?: Types.ObjectId }>();
  return closed?.closedBy?.equals(token) === true;
}

export async function setRole(models: Models, conversationId: string, userId: string, role: Role): Promise<boolean> {
  const cid = parseId(conversationId);
  if (!cid) return false;
  const res = await models.Membership.updateOne({ conversationId: cid, userId, open: true }, { $set: { role } });
  return res.matchedCount > 0;
}

export async function listMembers(
  models: Models,
  conversationId: string,
  opts: { limit: number; cursor?: string },
): Promise<Page<Member & { readReceipts: boolean }>> {
  const after = membersCursor.parse(opts.cursor);
  const cid = parseId(conversationId);
  if (!cid) return { items: [] };
  const limit = Math.max(1, Math.floor(opts.limit));
  const rows = await models.Membership.find({
    conversationId: cid,
    open: true,
    ...(after !== undefined ? { userId: op({ $gt: after }) } : {}),
  })
    .sort({ userId: 1 })
    .limit(limit + 1)
    .lean<MembershipDoc[]>();
  const page = rows.slice(0, limit);
  const settings = page.length
    ? await models.UserSettings.find({ _id: op({ $in: page.map((r) => r.userId) }) }).lean<{ _id: string; readReceipts: boolean }[]>()
    : [];
  const receipts = new Map(settings.map((s) => [s._id, s.readReceipts]));
  const items = page.map((r) => toMember(r, receipts.get(r.userId) ?? true));
  const last = page[page.length - 1];
  return rows.length > limit && last ? { items, nextCursor: membersCursor.encode(last.userId) } : { items };
}

/**
 * Conditional updates (`field < seq` → `field = seq`) instead of `$max`: the same forward-only
 * guarantee, with the "did it move" answer in `modifiedCount`, and jongodb has no `$max`.
 * Updates of one (conversation, user, type) that appear once — every batch of the receipt
 * batcher, up to 500 members — go out as one unordered bulk write (`bulkAdvance`); keys that
 * repeat run in input order, one update at a time.
 */
export async function advanceWatermarks(models: Models, updates: WatermarkUpdate[]): Promise<(number | false)[]> {
  const moved: (number | false)[] = updates.map(() => false);
  const ids = updates.map((u) => parseId(u.conversationId));
  const distinct = [...new Map(ids.filter((id): id is Types.ObjectId => id !== null).map((id) => [id.toHexString(), id])).values()];
  if (distinct.length === 0) return moved;
  assertUserIds(updates.map((u) => u.userId));
  const convs = await models.Conversation.find({ _id: op({ $in: distinct }) }, { lastSeq: 1 }).lean<{ _id: Types.ObjectId; lastSeq: number }[]>();
  const lastSeq = new Map(convs.map((c) => [c._id.toHexString(), c.lastSeq]));

  const chains = new Map<string, number[]>();
  updates.forEach((u, i) => {
    if (!ids[i] || !lastSeq.has(u.conversationId)) return;
    const key = `${u.conversationId}\u0000${u.userId}\u0000${u.type}`;
    chains.set(key, [...(chains.get(key) ?? []), i]);
  });
  const target = (i: number) => Math.min(updates[i]!.seq, lastSeq.get(updates[i]!.conversationId)!);
  const singles = [...chains.values()].filter((c) => c.length === 1).map((c) => c[0]!);
  await Promise.all([
    bulkAdvance(models, singles.map((i) => ({ i, cid: ids[i]!, userId: updates[i]!.userId, field: fieldOf(updates[i]!), seq: target(i) })), moved),
    ...[...chains.values()]
      .filter((c) => c.length > 1)
      .map(async (chain) => {
        for (const i of chain) {
          const seq = target(i);
          const field = fieldOf(updates[i]!);
          const res = await models.Membership.updateOne(
            { conversationId: ids[i]!, userId: updates[i]!.userId, open: true, [field]: op({ $lt: seq }) },
            { $set: { [field]: seq } },
          );
          moved[i] = res.modifiedCount > 0 ? seq : false;
        }
      }),
  ]);
  return moved;
}

type WatermarkField = 'readSeq' | 'deliveredSeq';
const fieldOf = (u: WatermarkUpdate): WatermarkField => (u.type === 'read' ? 'readSeq' : 'deliveredSeq');

/**
 * Distinct (conversation, user, field) updates in two round trips: read the current values,
 * then one unordered bulk write of the conditional updates that would move. A bulk write only
 * reports how many documents it modified; since a watermark never moves back, an update read as
 * "would move" can only have failed to move if someone else moved it past in between — so when
 * the count matches the prediction, the prediction is exact. Otherwise (a concurrent receipt),
 * the values are read again and an update counts as moved when its value is the one stored.
 */
async function bulkAdvance(
  models: Models,
  items: { i: number; cid: Types.ObjectId; userId: string; field: WatermarkField; seq: number }[],
  moved: (number | false)[],
): Promise<void> {
  if (items.length === 0) return;
  const current = async () => {
    const docs = await models.Membership.find(
      { open: true, $or: items.map((x) => ({ conversationId: x.cid, userId: x.userId })) },
      { conversationId: 1, userId: 1, readSeq: 1, deliveredSeq: 1, _id: 0 },
    ).lean<Pick<MembershipDoc, 'conversationId' | 'userId' | 'readSeq' | 'deliveredSeq'>[]>();
    return new Map(docs.map((d) => [`${d.conversationId.toHexString()}\u0000${d.userId}`, d]));
  };
  const valueOf = (state: Awaited<ReturnType<typeof current>>, x: (typeof items)[number]) =>
    state.get(`${x.cid.toHexString()}\u0000${x.userId}`)?.[x.field];
  const before = await current();
  const predicted = items.filter((x) => {
    const v = valueOf(before, x);
    return v !== undefined && v < x.seq;
  });
  if (predicted.length === 0) return;
  const res = await models.Membership.collection.bulkWrite(
    predicted.map((x) => ({
      updateOne: { filter: { conversationId: x.cid, userId: x.userId, open: true, [x.field]: { $lt: x.seq } }, update: { $set: { [x.field]: x.seq } } },
    })),
    { ordered: false },
  );
  if (res.modifiedCount === predicted.length) {
    for (const x of predicted) moved[x.i] = x.seq;
    return;
  }
  const after = await current();
  for (const x of predicted) moved[x.i] = valueOf(after, x) === x.seq ? x.seq : false;
}

/**
 * The user's current conversation ids, most recently active first, in one round trip: the open
 * periods (covered by `user_open`) joined to their conversations' lastActivityAt on `_id`.
 */
export async function listConversationIds(models: Models, userId: string, limit?: number): Promise<string[]> {
  assertUserIds([userId]);
  const docs = await models.Membership.aggregate<{ id: Types.ObjectId }>([
    { $match: { userId, open: true } },
    { $lookup: { from: models.Conversation.collection.collectionName, localField: 'conversationId', foreignField: '_id', as: 'c' } },
    { $unwind: '$c' },
    { $project: { _id: 0, id: '$conversationId', t: '$c.lastActivityAt' } },
    { $sort: { t: -1, id: -1 } },
    ...(limit === undefined ? [] : [{ $limit: limit }]),
  ]);
  return docs.map((d) => d.id.toHexString());
}
