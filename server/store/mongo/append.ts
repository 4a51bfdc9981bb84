// Appending messages: seq from an atomic counter on the conversation document, then an insert
// guarded by two unique indexes. Idempotency comes from `(conversationId, senderId, clientMsgId)`:
// a cheap lookup first (a retry burns no seq), and on a duplicate-key error the original wins.
import { Types } from 'mongoose';
import { clientKey, firstOccurrences } from '../shared.js';
import { NotFoundStoreError, StoreUnavailableError, type AppendResult, type NewMessage } from '../store.js';
import { bumpCounter } from './counter.js';
import { duplicatePositions, isDuplicateKey } from './errors.js';
import { parseId, toMessage } from './mappers.js';
import { op, type MessageDoc, type Models } from './models.js';

// A duplicate key that is not the clientMsgId means the seq was taken: by a reader that closed
// the gap while our insert was in flight (history.ts), or on jongodb by a concurrent writer
// (its findOneAndUpdate can return a post-image that already includes another increment, see
// JONGODB.md). Either way we take a fresh seq, a few times before giving up.
const MAX_SEQ_ATTEMPTS = 5;

function notFound(conversationId: string): NotFoundStoreError {
  return new NotFoundStoreError(`conversation ${conversationId} not found`);
}

function buildDoc(input: NewMessage, conversationId: Types.ObjectId, seq: number, now: Date): MessageDoc {
  const doc: MessageDoc = {
    _id: new Types.ObjectId(),
    conversationId,
    seq,
    senderId: input.senderId,
    clientMsgId: input.clientMsgId,
    kind: input.kind,
    createdAt: now,
  };
  if (input.text !== undefined) doc.text = input.text;
  if (input.attachment) doc.attachment = input.attachment;
  if (input.system) doc.system = input.system;
  return doc;
}

/**
 * Stored messages matching `filter`, each majority-committed. The unique index decides by what
 * the primary has (`local`), so that is what we look up; but a repeat must not be acknowledged
 * with an original that a failover could still roll back (the original's own insert may still be
 * waiting for the majority). Hits are therefore read again at `majority` in a causally consistent
 * session: the server answers once the majority has caught up with the first read (bounded by
 * the operation deadline, then UNAVAILABLE). The usual miss costs one query.
 */
async function findDurable(models: Models, filter: Record<string, unknown>): Promise<MessageDoc[]> {
  const session = await models.Message.db.startSession({ causalConsistency: true });
  try {
    const local = await models.Message.find(filter).session(session).readConcern('local').lean<MessageDoc[]>();
    if (local.length === 0) return [];
    const durable = await models.Message.find({ _id: op({ $in: local.map((d) => d._id) }) })
      .session(session)
      .lean<MessageDoc[]>();
    if (durable.length < local.length) throw new StoreUnavailableError('a stored original is not majority-committed yet');
    return durable;
  } finally {
    await session.endSession();
  }
}

async function findOriginal(models: Models, conversationId: Types.ObjectId, senderId: string, clientMsgId: string): Promise<MessageDoc | null> {
  return (await findDurable(models, { conversationId, senderId, clientMsgId }))[0] ?? null;
}

// lastActivityAt takes `$max` of this node's clock, so a node whose clock is behind never moves
// a conversation back in the inbox order. jongodb has no `$max` (JONGODB.md #1): `init()` probes
// once per store and falls back to `$set` there; real MongoDB always gets `$max`.
const activityOperator = new WeakMap<Models, '$max' | '$set'>();

/** Checks once whether the server takes `$max` (a no-op update on a fresh id). */
export async function probeActivityOperator(models: Models): Promise<void> {
  try {
    await models.Conversation.collection.updateOne({ _id: new Types.ObjectId() }, { $max: { lastActivityAt: new Date(0) } });
    activityOperator.set(models, '$max');
  } catch (err) {
    // jongodb answers BadValue ("unsupported update operator"); anything else is a real failure.
    if ((err as { codeName?: unknown }).codeName !== 'BadValue') throw err;
    activityOperator.set(models, '$set');
  }
}

/** Reserves `count` seqs; returns the highest, or null when the conversation does not exist. */
function reserveSeqs(models: Models, conversationId: Types.ObjectId, count: number, now: Date): Promise<number | null> {
  return bumpCounter(models, conversationId, count, { [activityOperator.get(models) ?? '$max']: { lastActivityAt: now } });
}

/** Inserts `input` with a freshly reserved seq, taking another one while the seq is taken. */
async function insertFresh(models: Models, input: NewMessage, conversationId: Types.ObjectId): Promise<AppendResult> {
  for (let attempt = 0; attempt < MAX_SEQ_ATTEMPTS; attempt++) {
    const now = new Date();
    const seq = await reserveSeqs(models, conversationId, 1, now);
    if (seq === null) throw notFound(input.conversationId);
    const doc = buildDoc(input, conversationId, seq, now);
    const settled = await insertOrResolve(models, doc);
    if (settled) return settled;
  }
  // Readers closing gaps (history.ts) took every seq we reserved: contention, so retry later.
  throw new StoreUnavailableError(`could not assign a unique seq in conversation ${input.conversationId}`);
}

/**
 * Inserts one prepared document; null when its seq turned out to be taken. On a duplicate key,
 * the stored message with the same clientMsgId is the answer: someone else's (a duplicate), or
 * this very document when an earlier batch insert did land after all.
 */
async function insertOrResolve(models: Models, doc: MessageDoc): Promise<AppendResult | null> {
  try {
    await models.Message.collection.insertOne(doc);
    return { message: toMessage(doc), duplicate: false };
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return resolveConflict(models, doc);
  }
}

async function resolveConflict(models: Models, doc: MessageDoc): Promise<AppendResult | null> {
  const original = await findOriginal(models, doc.conversationId, doc.senderId, doc.clientMsgId);
  if (!original) return null;
  return { message: toMessage(original), duplicate: !original._id.equals(doc._id) };
}

export async function appendOne(models: Models, input: NewMessage): Promise<AppendResult> {
  const conversationId = parseId(input.conversationId);
  if (!conversationId) throw notFound(input.conversationId);
  const existing = await findOriginal(models, conversationId, input.senderId, input.clientMsgId);
  if (existing) return { message: toMessage(existing), duplicate: true };
  return insertFresh(models, input, conversationId);
}


/**
 * Batch append in three round trips for the common case: one lookup of existing clientMsgIds,
 * one `$inc` by k per conversation (in parallel), one unordered insertMany. Conflicts found by
 * the insert are then settled one by one.
 */
export async function appendMany(models: Models, inputs: NewMessage[]): Promise<AppendResult[]> {
  if (inputs.length === 0) return [];
  if (inputs.length === 1) return [await appendOne(models, inputs[0]!)];

  const ids = inputs.map((m) => {
    const id = parseId(m.conversationId);
    if (!id) throw notFound(m.conversationId);
    return id;
  });

  // Repeats inside the batch resolve to the first occurrence.
  const firstIndex = firstOccurrences(inputs);
  const firsts = [...firstIndex.values()];

  const existing = await findDurable(models, {
    $or: firsts.map((i) => ({ conversationId: ids[i]!, senderId: inputs[i]!.senderId, clientMsgId: inputs[i]!.clientMsgId })),
  });
  const existingByKey = new Map(existing.map((d) => [clientKey({ ...d, conversationId: d.conversationId.toHexString() }), d]));

  const results: (AppendResult | undefined)[] = new Array(inputs.length);
  const byConversation = new Map<string, number[]>();
  for (const i of firsts) {
    const found = existingByKey.get(clientKey(inputs[i]!));
    if (found) {
      results[i] = { message: toMessage(found), duplicate: true };
      continue;
    }
    const list = byConversation.get(inputs[i]!.conversationId) ?? [];
    list.push(i);
    byConversation.set(inputs[i]!.conversationId, list);
  }

  const now = new Date();
  const groups = [...byConversation.values()];
  const lasts = await Promise.all(groups.map((idx) => reserveSeqs(models, ids[idx[0]!]!, idx.length, now)));
  const docs: { i: number; doc: MessageDoc }[] = [];
  groups.forEach((idx, g) => {
    const last = lasts[g];
    if (last === null || last === undefined) throw notFound(inputs[idx[0]!]!.conversationId);
    idx.forEach((i, k) => docs.push({ i, doc: buildDoc(inputs[i]!, ids[i]!, last - idx.length + 1 + k, now) }));
  });

  if (docs.length > 0) {
    const failed = await insertBatch(models, docs.map((d) => d.doc));
    await Promise.all(
      docs.map(async ({ i, doc }, n) => {
        if (!failed.has(n)) {
          results[i] = { message: toMessage(doc), duplicate: false };
          return;
        }
        results[i] = (await insertOrResolve(models, doc)) ?? (await insertFresh(models, inputs[i]!, ids[i]!));
      }),
    );
  }

  return inputs.map((m, i) => {
    const own = results[i];
    if (own) return own;
    const first = results[firstIndex.get(clientKey(m))!]!;
    return { message: first.message, duplicate: true };
  });
}

/**
 * Unordered insert of the batch; returns the positions that were not stored because of a
 * duplicate key. MongoDB reports those per document (`writeErrors`) and stores the rest; a
 * server that rejects the whole batch with one duplicate-key error and no per-document detail
 * (jongodb, see JONGODB.md) gets every position back, and `insertOrResolve` sorts them out
 * (a document that did land is recognised by its own `_id`). A write-concern error, also one
 * reported beside the duplicates, throws: what landed is not durable and must not be acked.
 */
async function insertBatch(models: Models, docs: MessageDoc[]): Promise<Set<number>> {
  try {
    await models.Message.collection.insertMany(docs, { ordered: false });
    return new Set();
  } catch (err) {
    return duplicatePositions(err) ?? new Set(docs.map((_, n) => n));
  }
}
