// Creating conversations, and one direct conversation per pair without a unique index on
// `conversations` (#14 item 8: such an index blocks sharding it on `{ _id: 1 }`).
//
// No transaction (JONGODB.md #5, and its cost per create): the writes are ordered so that a crash
// between two of them leaves nothing a reader trips over, and the next create finishes the job.
// - Every conversation: its first periods, then the conversation document. A conversation that
//   exists always has its initial members.
// - A direct pair first claims `direct_pairs` (`_id` = the pair key, so the `_id` index decides
//   between concurrent creates on any shard layout). The claim names the conversation id and the
//   period ids chosen up front, so whoever finds a claim without its conversation — a concurrent
//   create, or any later one after the claimant died — writes the same documents under the same
//   ids (a duplicate is someone else's identical write) and returns that conversation. Fixed
//   period ids matter: a late finisher re-inserting a period a member has since closed hits the
//   `_id` and cannot reopen it.
// - Until `migrate --drop-retired` has run, conversations of an older release are guarded by
//   the `direct_pair` index and may have no claim: the conversation insert then fails on that
//   index and the claim is moved to the older conversation ("adopted").
import { randomBytes } from 'node:crypto';
import { Types, type mongo } from 'mongoose';
import type { Conversation } from '../../../protocol/index.js';
import { checkNewConversation } from '../shared.js';
import type { NewConversation } from '../store.js';
import { newPeriod } from './counter.js';
import { insertSkippingDuplicates, isDuplicateKey } from './errors.js';
import { toConversation } from './mappers.js';
import { checkMemberCap } from './member-cap.js';
import { op, type ConversationDoc, type DirectPairDoc, type Models } from './models.js';

/** The raw `direct_pairs` collection, typed with its string `_id` (the driver's default is an ObjectId). */
const pairs = (models: Models) => models.DirectPair.collection as unknown as mongo.Collection<DirectPairDoc>;

type Fields = Pick<DirectPairDoc, 'createdBy' | 'createdAt' | 'public' | 'title'>;

function conversationDoc(id: Types.ObjectId, type: ConversationDoc['type'], f: Fields, directKey?: string): ConversationDoc {
  return {
    _id: id,
    type,
    ...(f.title !== undefined ? { title: f.title } : {}),
    createdBy: f.createdBy,
    createdAt: f.createdAt,
    lastSeq: 0,
    public: f.public,
    lastActivityAt: f.createdAt,
    ...(directKey !== undefined ? { directKey } : {}),
  };
}

export async function createConversation(models: Models, input: NewConversation): Promise<{ conversation: Conversation; created: boolean }> {
  const { members, directKey } = checkNewConversation(input);
  if (directKey !== undefined) {
    const pair = await models.DirectPair.findOne({ _id: directKey }).lean<DirectPairDoc>();
    if (pair) return { conversation: await completeDirect(models, pair), created: false };
  }
  await checkMemberCap(models, members.map((m) => m.userId), input.maxOpenPerUser);
  // Random, not time-ordered: a ranged shard key on conversationId then spreads new
  // conversations over all chunks instead of the last one (docs/operations.md, sharding).
  const id = new Types.ObjectId(randomBytes(12));
  const fields: Fields = { createdBy: input.createdBy, createdAt: new Date(), public: input.public, ...(input.title !== undefined && { title: input.title }) };
  if (directKey === undefined) {
    const doc = conversationDoc(id, input.type, fields);
    const periods = members.map((m) => newPeriod(id, m.userId, m.role, 0, fields.createdAt));
    if (periods.length) await models.Membership.collection.insertMany(periods, { ordered: true });
    await models.Conversation.collection.insertOne(doc);
    return { conversation: toConversation(doc), created: true };
  }
  const claim: DirectPairDoc = { _id: directKey, conversationId: id, ...fields, members: members.map((m) => ({ _id: new Types.ObjectId(), ...m })) };
  try {
    await pairs(models).insertOne(claim);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    // Another create claimed the pair first; its claim may not be majority-committed yet.
    const winner = await models.DirectPair.findOne({ _id: directKey }).readConcern('local').lean<DirectPairDoc>();
    if (!winner) throw err;
    return { conversation: await completeDirect(models, winner), created: false };
  }
  const conversation = await completeDirect(models, claim, true);
  return { conversation, created: conversation.id === id.toHexString() };
}

/**
 * The claimed conversation, written now if the claim has none yet (idempotent, see the top).
 * `justClaimed`: the caller's own claim, so the conversation is almost surely not there yet and
 * is not looked up first (a duplicate on insert still finds it).
 */
export async function completeDirect(models: Models, pair: DirectPairDoc, justClaimed = false): Promise<Conversation> {
  const stored = justClaimed ? null : await models.Conversation.findOne({ _id: pair.conversationId }).lean<ConversationDoc>();
  if (stored) return toConversation(stored);
  const periods = pair.members.map((m) => newPeriod(pair.conversationId, m.userId, m.role, 0, pair.createdAt, m._id));
  if (periods.length) await insertSkippingDuplicates(models.Membership.collection, periods);
  const doc = conversationDoc(pair.conversationId, 'direct', pair, pair._id);
  try {
    await models.Conversation.collection.insertOne(doc);
    return toConversation(doc);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const local = (filter: object) => models.Conversation.findOne(filter).readConcern('local').lean<ConversationDoc>();
    const same = await local({ _id: pair.conversationId });
    if (same) return toConversation(same);
    // Only while `direct_pair` exists: an older release's conversation of this pair.
    const older = await local({ directKey: pair._id });
    if (!older) throw err;
    await adopt(models, pair, older._id);
    return toConversation(older);
  }
}

/** Points the claim at `conversationId` instead (if it still names its own) and removes the periods it wrote. */
async function adopt(models: Models, pair: DirectPairDoc, conversationId: Types.ObjectId): Promise<void> {
  await models.DirectPair.updateOne({ _id: pair._id, conversationId: pair.conversationId }, { $set: { conversationId, members: [] } });
  const ids = pair.members.map((m) => m._id);
  if (ids.length) await models.Membership.deleteMany({ conversationId: pair.conversationId, _id: op({ $in: ids }) });
}

type LegacyDirect = Pick<ConversationDoc, '_id' | 'directKey' | 'createdBy' | 'createdAt' | 'public'>;

/**
 * Deploy step before `direct_pair` is dropped (migrate): every direct conversation gets its
 * claim. Conversations are read through `direct_pair` itself (partial on `directKey`). Returns
 * how many claims were written or moved.
 */
export async function recordDirectPairs(models: Models): Promise<number> {
  let changed = 0;
  const cursor = models.Conversation.find({ directKey: op({ $exists: true }) }, { _id: 1, directKey: 1, createdBy: 1, createdAt: 1, public: 1 })
    .lean<LegacyDirect>()
    .cursor();
  for await (const c of cursor) if (await recordPair(models, c)) changed++;
  return changed;
}

/** Claims the pair for `c`, or moves a claim that names a conversation never written (the index kept it out). */
async function recordPair(models: Models, c: LegacyDirect): Promise<boolean> {
  const key = c.directKey!;
  try {
    await pairs(models).insertOne({ _id: key, conversationId: c._id, createdBy: c.createdBy, createdAt: c.createdAt, public: c.public, members: [] });
    return true;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
  const pair = await models.DirectPair.findOne({ _id: key }).readConcern('local').lean<DirectPairDoc>();
  if (!pair || pair.conversationId.equals(c._id)) return false;
  await adopt(models, pair, c._id);
  return true;
}
