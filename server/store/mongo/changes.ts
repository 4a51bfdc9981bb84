// Edits, deletions and reactions in MongoDB (PROTOCOL.md §9), without transactions.
//
// A change reads the message, works out the new state, reserves the next seq of the
// conversation, CLAIMS the step from the version it read (the message's `updatedSeq`, 0 before
// any change) and writes the state with `updatedSeq` = the new seq. The claim is an insert that
// the unique `(conversationId, seq)` index decides (a conditional update is not atomic on every
// server we test against): a placeholder filed under the message's id as conversation and the
// version as seq, so no conversation's reads ever meet it. Of two racing changes one wins the
// claim and the other starts again from its result, so 20 concurrent toggles end with the exact
// count. A no-op reserves nothing. Claims are kept (one small document per change): a stale
// reader could otherwise claim an old version again. The seq a change took is never a message, so it is filled with a gap placeholder
// (history.ts) once the write is done. If a reader closed that seq first, a sync may already
// have moved past it: the change then takes a fresh seq above it, so a client syncing from its
// highest seen seq still gets it.
import type { Types } from 'mongoose';
import type { Message } from '../../../protocol/index.js';
import { StoreUnavailableError, type ChangePageQuery, type ChangeResult, type MessageChange } from '../store.js';
import { bumpCounter } from './counter.js';
import { isDuplicateKey } from './errors.js';
import { placeholder } from './history.js';
import { mapLimit } from './inbox.js';
import { periodHolds } from './memberships.js';
import { parseId, toMessage } from './mappers.js';
import { GAP_KIND, op, type MessageDoc, type Models } from './models.js';

/** Rounds of claims before answering UNAVAILABLE (each is lost only to another change). */
const MAX_ATTEMPTS = 50;

type Plan = { $set: Partial<MessageDoc>; $unset?: Record<string, ''> } | null;

/** The write that applies `change` to `doc`, or null when it changes nothing. */
function plan(doc: MessageDoc, change: MessageChange, now: Date): Plan {
  if (doc.deletedAt) return null;
  switch (change.type) {
    case 'edit':
      return doc.text === change.text ? null : { $set: { text: change.text, editedAt: now } };
    case 'delete':
      return { $set: { deletedAt: now }, $unset: { text: '', attachment: '', reactors: '' } };
    case 'react': {
      const reactors = doc.reactors ?? [];
      const held = reactors.some((r) => r.emoji === change.emoji && r.userId === change.userId);
      if (held === change.on) return null;
      const next = change.on
        ? [...reactors, { emoji: change.emoji, userId: change.userId }]
        : reactors.filter((r) => !(r.emoji === change.emoji && r.userId === change.userId));
      return { $set: { reactors: next } };
    }
  }
}

function reserveSeq(models: Models, conversationId: Types.ObjectId): Promise<number | null> {
  return bumpCounter(models, conversationId, 1);
}

/** Fills `seq` with a placeholder; false when a reader filled it first. */
async function fill(models: Models, conversationId: Types.ObjectId, seq: number): Promise<boolean> {
  try {
    await models.Message.collection.insertOne(placeholder(conversationId, seq, new Date()));
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}

/** Makes the seq the message now carries one no sync can have skipped (see the header). */
async function settle(models: Models, conversationId: Types.ObjectId, messageId: Types.ObjectId, seq: number): Promise<void> {
  let current = seq;
  while (!(await fill(models, conversationId, current))) {
    // Claim the version being moved first: otherwise a change that read it and one that read the
    // moved version would both win their claims and the later write would drop the earlier one.
    // Taken already: a later change started from it and settles its own seq.
    if (!(await fill(models, messageId, current))) return;
    const fresh = await reserveSeq(models, conversationId);
    if (fresh === null) return;
    const moved = await models.Message.collection.updateOne({ _id: messageId, updatedSeq: current }, { $set: { updatedSeq: fresh } });
    if (moved.matchedCount === 0) {
      // A later change superseded this one and settles its own seq; the fresh one only needs filling.
      await fill(models, conversationId, fresh);
      return;
    }
    current = fresh;
  }
}

export async function changeMessage(models: Models, change: MessageChange): Promise<ChangeResult | null> {
  const conversationId = parseId(change.conversationId);
  const messageId = parseId(change.messageId);
  if (!conversationId || !messageId) return null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const doc = await models.Message.collection.findOne<MessageDoc>({ _id: messageId, conversationId, kind: { $ne: GAP_KIND } });
    if (!doc) return null;
    const write = plan(doc, change, new Date());
    if (!write) return { message: toMessage(doc), changed: false };
    const seq = await reserveSeq(models, conversationId);
    if (seq === null) return null;
    if (!(await fill(models, messageId, doc.updatedSeq ?? 0))) {
      await fill(models, conversationId, seq);
      continue;
    }
    await models.Message.collection.updateOne(
      { _id: messageId },
      { $set: { ...write.$set, updatedSeq: seq }, ...(write.$unset ? { $unset: write.$unset } : {}) },
    );
    await settle(models, conversationId, messageId, seq);
    const settled = await models.Message.collection.findOne<MessageDoc>({ _id: messageId });
    return settled ? { message: toMessage(settled), changed: true } : null;
  }
  throw new StoreUnavailableError('message change lost too many races; retry');
}

/** Probes of the reader's periods in flight at once, for one batch of changed messages. */
const PROBES_IN_FLIGHT = 16;

/**
 * Changed messages a batch at a time (the `changes` index), each kept when the reader's period
 * holding its seq exists: one probe per distinct seq (periodHolds), so a reader with thousands
 * of leave/rejoin cycles has only the periods of the changed messages read (PROTOCOL.md §7).
 */
export async function pageChanges(models: Models, q: ChangePageQuery): Promise<Message[]> {
  const conversationId = parseId(q.conversationId);
  const limit = Math.floor(q.limit);
  if (!conversationId || !(limit > 0)) return [];
  const out: Message[] = [];
  for (let after = q.after; out.length < limit; ) {
    const docs = await models.Message.find({ conversationId, updatedSeq: op({ $gt: after }) })
      .sort({ updatedSeq: 1 })
      .limit(limit)
      .lean<MessageDoc[]>();
    const seqs = [...new Set(docs.map((d) => d.seq))];
    const held = await mapLimit(seqs, PROBES_IN_FLIGHT, (seq) => periodHolds(models, conversationId, q.userId, seq));
    const visible = new Set(seqs.filter((_, i) => held[i]));
    for (const d of docs) if (visible.has(d.seq) && out.length < limit) out.push(toMessage(d));
    if (docs.length < limit) break;
    after = docs[docs.length - 1]!.updatedSeq!;
  }
  return out;
}
