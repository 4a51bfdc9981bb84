// Collections of the MongoDB adapter and the indexes each query relies on. Indexes are declared
// here and built by `init()` with the `createIndexes` command (autoIndex and autoCreate are off:
// index builds are a deploy step, not a side effect of the first query).
import mongoose, { Schema, type Connection, type Model, type Types } from 'mongoose';
import type { Attachment, ConversationType, MessageKind, Role, SystemEvent } from '../../../protocol/index.js';

export interface ConversationDoc {
  _id: Types.ObjectId;
  type: ConversationType;
  title?: string;
  createdBy: string;
  createdAt: Date;
  /** Highest seq handed out; bumped atomically by every append (`$inc`), never while `pending` is set. */
  lastSeq: number;
  public: boolean;
  /** Time of the last append, else creation: the order of a user's conversation list. */
  lastActivityAt: Date;
  /** Only on `direct`: the sorted member pair. Unique through `direct_pairs`, not an index here (sharding). */
  directKey?: string;
  /** A join or leave being carried out; the counter does not move while it is set (counter.ts). */
  pending?: PendingMembershipChange;
}

/** A membership change ordered against the seq counter: periods to open, or one to close. */
export interface PendingMembershipChange {
  token: Types.ObjectId;
  at: Date;
  join?: { _id: Types.ObjectId; userId: string; role: Role }[];
  /** `_id` of the period to close. */
  leave?: Types.ObjectId;
}

/**
 * A direct pair's one conversation (create.ts). `_id` is the sorted pair key, so the `_id` index
 * alone makes a pair unique, on any shard layout. Written before the conversation, with
 * everything needed to write that conversation and its first periods (ids chosen up front), so
 * whoever finds the pair without its conversation can finish the creation idempotently.
 */
export interface DirectPairDoc {
  _id: string;
  conversationId: Types.ObjectId;
  createdBy: string;
  createdAt: Date;
  public: boolean;
  title?: string;
  /** Initial periods; empty for a pair recorded for a conversation that already existed (migrate). */
  members: { _id: Types.ObjectId; userId: string; role: Role }[];
}

/** One membership period. `open` is true exactly while the period has not been closed. */
export interface MembershipDoc {
  _id: Types.ObjectId;
  conversationId: Types.ObjectId;
  userId: string;
  role: Role;
  open: boolean;
  joinedAt: Date;
  joinedSeq: number;
  leftAt?: Date;
  leftSeq?: number;
  /** Token of the leave that closed the period (counter.ts), so the caller knows it was theirs. */
  closedBy?: Types.ObjectId;
  deliveredSeq: number;
  readSeq: number;
}

/** Kind of the placeholder a reader puts in a seq gap (history.ts); never returned to callers. */
export const GAP_KIND = 'gap';

export interface MessageDoc {
  _id: Types.ObjectId;
  conversationId: Types.ObjectId;
  seq: number;
  senderId: string;
  clientMsgId: string;
  kind: MessageKind | typeof GAP_KIND;
  text?: string;
  attachment?: Attachment;
  system?: SystemEvent;
  createdAt: Date;
  /** PROTOCOL.md §9: the seq of the latest change, and when it was edited or deleted. */
  updatedSeq?: number;
  editedAt?: Date;
  deletedAt?: Date;
  /** Who holds which reaction (a member holds each emoji once); counts are derived on read. */
  reactors?: { emoji: string; userId: string }[];
}

/** Per-user settings; `_id` is the user id. Absent document = defaults. */
export interface UserSettingsDoc {
  _id: string;
  readReceipts: boolean;
}

// strictQuery 'throw' rather than `true`: with `true` an unknown path is silently dropped from a
// filter, which turns a typo into "match everything"; throwing makes it a test failure instead.
const schemaOptions = {
  versionKey: false,
  strict: 'throw',
  strictQuery: 'throw',
  autoIndex: false,
  autoCreate: false,
} as const;

const roles = ['owner', 'admin', 'moderator', 'member'];

const conversationSchema = new Schema<ConversationDoc>(
  {
    type: { type: String, enum: ['direct', 'group', 'channel'], required: true },
    title: { type: String },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
    lastSeq: { type: Number, required: true },
    public: { type: Boolean, required: true },
    lastActivityAt: { type: Date, required: true },
    directKey: { type: String },
    pending: { type: Schema.Types.Mixed },
  },
  { ...schemaOptions, collection: 'conversations' },
);
// No unique index but `_id`, so the collection can be sharded on `{ _id: 1 }`: direct-pair
// uniqueness lives in `direct_pairs` (the `direct_pair` index it replaces is dropped by migrate).
// getConversation, the append counter and listConversations' page query (`_id $in` the user's
// conversations, sorted by lastActivityAt) all go through the default `_id` index.

const membershipSchema = new Schema<MembershipDoc>(
  {
    conversationId: { type: Schema.Types.ObjectId, required: true },
    userId: { type: String, required: true },
    role: { type: String, enum: roles, required: true },
    open: { type: Boolean, required: true },
    joinedAt: { type: Date, required: true },
    joinedSeq: { type: Number, required: true },
    leftAt: { type: Date },
    leftSeq: { type: Number },
    closedBy: { type: Schema.Types.ObjectId },
    deliveredSeq: { type: Number, required: true },
    readSeq: { type: Number, required: true },
  },
  { ...schemaOptions, collection: 'memberships' },
);
// At most one open period per (conversation, user); also serves getMembership, setRole,
// removeMember, advanceWatermarks (equality on both keys + open), countMembers (prefix) and
// listMembers (prefix + range/sort on userId).
membershipSchema.index(
  { conversationId: 1, userId: 1 },
  { name: 'open_period', unique: true, partialFilterExpression: { open: true } },
);
// listPeriods (oldest first; joinedAt orders a leave and rejoin with no message in between) and,
// with `conversationId $in`, the periods of one page of listConversations.
membershipSchema.index({ conversationId: 1, userId: 1, joinedSeq: 1, joinedAt: 1 }, { name: 'periods' });
// listConversationIds and the first step of listConversations: `{ userId, open: true }`
// projected to conversationId is answered from this index alone (covered).
membershipSchema.index({ userId: 1, open: 1, conversationId: 1 }, { name: 'user_open' });

const attachmentSchema = new Schema<Attachment>(
  { url: String, name: String, size: Number, mime: String },
  { _id: false, versionKey: false, strict: 'throw' },
);
const systemSchema = new Schema<SystemEvent>(
  { action: String, actorId: String, userIds: { type: [String], default: undefined }, count: Number, role: String },
  { _id: false, versionKey: false, strict: 'throw' },
);

const messageSchema = new Schema<MessageDoc>(
  {
    conversationId: { type: Schema.Types.ObjectId, required: true },
    seq: { type: Number, required: true },
    senderId: { type: String, required: true },
    clientMsgId: { type: String, required: true },
    kind: { type: String, enum: ['text', 'file', 'system', GAP_KIND], required: true },
    text: { type: String },
    attachment: { type: attachmentSchema },
    system: { type: systemSchema },
    createdAt: { type: Date, required: true },
    updatedSeq: { type: Number },
    editedAt: { type: Date },
    deletedAt: { type: Date },
    reactors: { type: [{ _id: false, emoji: String, userId: String }], default: undefined },
  },
  { ...schemaOptions, collection: 'messages' },
);
// seq is unique per conversation (a second guard behind the atomic counter, and what decides
// between a writer and a reader closing a gap, history.ts); serves pageMessages (range on seq,
// either direction) and the last visible message of listConversations.
messageSchema.index({ conversationId: 1, seq: 1 }, { name: 'conversation_seq', unique: true });
// The unread count of listConversations (`seq > readSeq`, kind not system/gap, sender not the
// reader) answered from index keys alone: a covered count instead of fetching up to 9,999
// documents per inbox row.
messageSchema.index({ conversationId: 1, seq: 1, kind: 1, senderId: 1 }, { name: 'unread' });
// Idempotent append: the pre-check, the duplicate-key guard and getMessageByClientId.
messageSchema.index(
  { conversationId: 1, senderId: 1, clientMsgId: 1 },
  { name: 'conversation_sender_client_msg', unique: true },
);
// conversation:sync's changes after a seq; only changed messages have the field.
messageSchema.index({ conversationId: 1, updatedSeq: 1 }, { name: 'changes', partialFilterExpression: { updatedSeq: { $exists: true } } });
// getMessage uses the default `_id` index.

const directPairSchema = new Schema<DirectPairDoc>(
  {
    _id: { type: String, required: true },
    conversationId: { type: Schema.Types.ObjectId, required: true },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
    public: { type: Boolean, required: true },
    title: { type: String },
    members: { type: Schema.Types.Mixed, required: true },
  },
  { ...schemaOptions, collection: 'direct_pairs' },
);
// Only the default `_id` index (the pair key): a point read and a unique insert.

const userSettingsSchema = new Schema<UserSettingsDoc>(
  { _id: { type: String, required: true }, readReceipts: { type: Boolean, required: true } },
  { ...schemaOptions, collection: 'user_settings' },
);

export interface Models {
  Conversation: Model<ConversationDoc>;
  Membership: Model<MembershipDoc>;
  Message: Model<MessageDoc>;
  UserSettings: Model<UserSettingsDoc>;
  DirectPair: Model<DirectPairDoc>;
}

/** Binds the schemas to one connection (never the global default one). */
export function createModels(conn: Connection): Models {
  return {
    Conversation: conn.model<ConversationDoc>('Conversation', conversationSchema),
    Membership: conn.model<MembershipDoc>('Membership', membershipSchema),
    Message: conn.model<MessageDoc>('Message', messageSchema),
    UserSettings: conn.model<UserSettingsDoc>('UserSettings', userSettingsSchema),
    DirectPair: conn.model<DirectPairDoc>('DirectPair', directPairSchema),
  };
}

/**
 * Marks an operator object as ours, so `sanitizeFilter` leaves it alone. `const T` keeps literal
 * operands (`{ $ne: GAP_KIND }` stays `{ $ne: 'gap' }`): mongoose 9 checks a filter against the
 * field's type, and a widened `string` is not a `MessageDoc['kind']`.
 */
export const op = <const T extends object>(selector: T): T => mongoose.trusted(selector);
