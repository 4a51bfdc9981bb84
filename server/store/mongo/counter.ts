// The conversation's seq counter (`lastSeq`), and joins and leaves ordered against it (#14 item 7).
//
// A period's `joinedSeq`/`leftSeq` must be the counter at the moment the membership change
// becomes visible: a message whose seq was handed out before a join must stay outside the new
// member's period, one handed out after must fall inside. Reading the counter and then writing the
// membership are two operations on two documents, and appends in between got seqs that fell on
// the wrong side (PostgreSQL holds the conversation row lock across both). Without a transaction
// (JONGODB.md #5) the conversation document itself is the lock: a membership change first writes
// its description into `pending` there, and every `$inc` of the counter requires `pending` to be
// absent. While it is present the counter cannot move, so `lastSeq` *is* the change's seq, and
// whoever finds `pending` — the change itself, or an append or another membership change that
// wants the counter — carries it out and clears it ("helping"). Carrying it out is idempotent
// (periods inserted under ids chosen up front, a leave closes one named period), so no one waits
// for a slow or crashed node and no clock is compared: the next writer finishes its work.
import { Types } from 'mongoose';
import { StoreUnavailableError } from '../store.js';
import { insertSkippingDuplicates } from './errors.js';
import { op, type MembershipDoc, type Models, type PendingMembershipChange } from './models.js';

/** Helping rounds before answering UNAVAILABLE (each is lost only to another membership change). */
const MAX_ROUNDS = 50;
const NO_PENDING = { pending: op({ $exists: false }) };

export function newPeriod(conversationId: Types.ObjectId, userId: string, role: MembershipDoc['role'], seq: number, now: Date, id = new Types.ObjectId()): MembershipDoc {
  return { _id: id, conversationId, userId, role, open: true, joinedAt: now, joinedSeq: seq, deliveredSeq: seq, readSeq: seq };
}

/**
 * `$inc` of the counter (plus `extra`, e.g. lastActivityAt) once no membership change is pending;
 * returns the new `lastSeq`, or null when the conversation does not exist.
 */
export async function bumpCounter(models: Models, conversationId: Types.ObjectId, count: number, extra: Record<string, unknown> = {}): Promise<number | null> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const conv = await models.Conversation.findOneAndUpdate(
      { _id: conversationId, ...NO_PENDING },
      { $inc: { lastSeq: count }, ...extra },
      { returnDocument: 'after', projection: { lastSeq: 1 } },
    ).lean<{ lastSeq: number }>();
    if (conv) return conv.lastSeq;
    if (!(await helpPending(models, conversationId))) return null;
  }
  throw new StoreUnavailableError(`conversation ${conversationId.toHexString()}: membership changes kept the seq counter busy, retry`);
}

/**
 * Carries out the membership change pending on the conversation, if any. False when the
 * conversation does not exist. Read at `local`: the `pending` a filter just met on the primary
 * may not be majority-committed yet.
 */
async function helpPending(models: Models, conversationId: Types.ObjectId): Promise<boolean> {
  const doc = await models.Conversation.findOne({ _id: conversationId }, { lastSeq: 1, pending: 1 })
    .readConcern('local')
    .lean<{ lastSeq: number; pending?: PendingMembershipChange }>();
  if (!doc) return false;
  if (doc.pending) await carryOut(models, conversationId, doc.pending, doc.lastSeq);
  return true;
}

/**
 * Makes `change` pending on the conversation (waiting out, by helping, any other pending one),
 * carries it out at the frozen counter and clears it. Returns that seq, or null when the
 * conversation does not exist.
 */
export async function changeMembership(models: Models, conversationId: Types.ObjectId, change: PendingMembershipChange): Promise<number | null> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const conv = await models.Conversation.findOneAndUpdate(
      { _id: conversationId, ...NO_PENDING },
      { $set: { pending: change } },
      { returnDocument: 'after', projection: { lastSeq: 1 } },
    ).lean<{ lastSeq: number }>();
    if (conv) {
      await carryOut(models, conversationId, change, conv.lastSeq);
      return conv.lastSeq;
    }
    if (!(await helpPending(models, conversationId))) return null;
  }
  throw new StoreUnavailableError(`conversation ${conversationId.toHexString()}: membership changes kept the seq counter busy, retry`);
}

/** Idempotent: inserts the join's periods / closes the leave's period at `seq`, then clears `pending`. */
async function carryOut(models: Models, conversationId: Types.ObjectId, change: PendingMembershipChange, seq: number): Promise<void> {
  if (change.join?.length) {
    // A duplicate is a period someone carrying out the same join inserted (same `_id`), or an
    // open period the user already has (`open_period`): the user is then not added.
    const periods = change.join.map((j) => newPeriod(conversationId, j.userId, j.role, seq, change.at, j._id));
    await insertSkippingDuplicates(models.Membership.collection, periods);
  }
  if (change.leave) {
    await models.Membership.updateOne(
      { _id: change.leave, open: true },
      { $set: { open: false, leftAt: change.at, leftSeq: seq, closedBy: change.token } },
    );
  }
  await models.Conversation.updateOne({ _id: conversationId, 'pending.token': change.token }, { $unset: { pending: '' } });
}
