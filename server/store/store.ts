// The store port: everything the gateway needs from persistence. Nothing outside
// server/store/mongo and server/store/postgres imports mongoose or pg; both adapters pass the
// one contract suite in store.contract.ts.
import type {
  Attachment,
  Conversation,
  ConversationType,
  Member,
  Membership,
  Message,
  Role,
  SystemEvent,
} from '../../protocol/index.js';

/** A closed or open membership period: the user sees `afterSeq < seq <= untilSeq`. */
export interface Period {
  afterSeq: number;
  /** `null` for the open (current) period. */
  untilSeq: number | null;
}

export interface NewConversation {
  type: ConversationType;
  title?: string;
  createdBy: string;
  public: boolean;
  /** Initial members with their roles; must include the creator. Duplicates are ignored. */
  members: { userId: string; role: Role }[];
  /** As in `addMembers`: a member already in this many open conversations fails the create. */
  maxOpenPerUser?: number;
}

export interface AddOptions {
  /**
   * A user may hold at most this many open memberships (PROTOCOL.md §7): when one of the users
   * to add already holds that many, the call throws `ConflictStoreError` naming them and adds
   * nobody. Concurrent adds of one user may overshoot by at most the adds racing it (the
   * adapter documents its bound).
   */
  maxOpenPerUser?: number;
}

/**
 * Which periods `listPeriods` returns: with `after`, those that end above it (or are open),
 * oldest first; otherwise those that can hold a seq below `before` (start below `before - 1`; all
 * without `before`), newest first. Empty periods may be included. At most `limit`: a reader takes the periods nearest its page, never all of them.
 */
export interface PeriodRange {
  after?: number;
  before?: number;
  limit: number;
}

export interface NewMessage {
  conversationId: string;
  senderId: string;
  clientMsgId: string;
  kind: 'text' | 'file' | 'system';
  text?: string;
  attachment?: Attachment;
  system?: SystemEvent;
  /**
   * The sender has seen this message: also move the sender's delivered and read watermarks to
   * its seq (forward only), in the same write where the adapter can. Not for repeats.
   */
  senderSeen?: boolean;
}

export interface AppendResult {
  message: Message;
  /** True when nothing was stored because `(conversationId, senderId, clientMsgId)` existed. */
  duplicate: boolean;
}

export interface ConversationSummary {
  conversation: Conversation;
  role: Role;
  /** Visible non-system messages with seq > the caller's readSeq not sent by the caller. */
  unread: number;
  lastMessage?: Message;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  nextCursor?: string;
}

export interface MessagePageQuery {
  conversationId: string;
  /** The caller's membership periods; only messages inside one of them are returned. */
  periods: Period[];
  /** Newest first, seq < before. */
  before?: number;
  /** Oldest first, seq > after. */
  after?: number;
  limit: number;
}

/** A change to a stored message (PROTOCOL.md §9); permissions are the caller's business. */
export type MessageChange = { conversationId: string; messageId: string } & (
  | { type: 'edit'; text: string }
  | { type: 'delete' }
  | { type: 'react'; userId: string; emoji: string; on: boolean }
);

export interface ChangeResult {
  /** The message's state after the call (unchanged when `changed` is false). */
  message: Message;
  /** False when the change was a no-op: same text, deleted already, reaction already so, or a deleted message. */
  changed: boolean;
}

/**
 * Messages changed after `after` (`updatedSeq > after`) that `userId` may see (seq inside one of
 * their periods), oldest change first. The adapter reads only the period holding each changed
 * message (one index probe each), never all of the reader's periods (PROTOCOL.md §7).
 */
export interface ChangePageQuery {
  conversationId: string;
  userId: string;
  after: number;
  limit: number;
}

export type WatermarkType = 'delivered' | 'read';

export interface WatermarkUpdate {
  conversationId: string;
  userId: string;
  type: WatermarkType;
  seq: number;
}

/**
 * Persistence port. Every method is safe to call concurrently from several processes.
 * Timestamps are ISO strings; ids are opaque strings of `[A-Za-z0-9_-]`.
 * Adapters throw `StoreUnavailableError` when the database cannot be reached, so callers can
 * answer `UNAVAILABLE`; any other thrown error is a bug.
 */
export interface Store {
  readonly name: 'mongo' | 'postgres';

  /** Creates or migrates schema and indexes; safe when several nodes run it at once. */
  init(): Promise<void>;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /**
   * Creates a conversation and its initial memberships (joinedSeq 0). For `direct`, exactly two
   * distinct members; creating the same pair again (either order) returns the existing one with
   * `created: false`, also under concurrent creates.
   */
  createConversation(input: NewConversation): Promise<{ conversation: Conversation; created: boolean }>;
  /**
   * Read fresh, never cached: its `lastSeq` is at least the seq and `updatedSeq` of every message
   * and change stored before the read (`conversation:sync` answers "nothing after" from it).
   */
  getConversation(conversationId: string): Promise<Conversation | null>;

  /** The user's open membership period, or null when not a current member. */
  getMembership(conversationId: string, userId: string): Promise<Membership | null>;
  /**
   * All periods of the user in the conversation, oldest first (empty when never a member); with
   * a range, only the `limit` periods nearest it, in the range's order (PeriodRange).
   */
  listPeriods(conversationId: string, userId: string, range?: PeriodRange): Promise<Period[]>;
  /** Number of current members. */
  countMembers(conversationId: string): Promise<number>;
  /** Current members ordered by userId; cursor is opaque (malformed: InvalidArgumentStoreError). */
  listMembers(conversationId: string, opts: { limit: number; cursor?: string }): Promise<Page<Member & { readReceipts: boolean }>>;
  /**
   * Ids of the conversations the user currently belongs to, most recently active first (ties by
   * id, descending), at most `limit` (all when unset), in one round trip: the rooms a socket
   * joins at connect, so a user over the room cap keeps live messages for the live ones.
   */
  listConversationIds(userId: string, limit?: number): Promise<string[]>;
  /** listConversationIds of several users in one round trip (a reconnect storm's handshakes), in their order. */
  listConversationIdsOfUsers(userIds: readonly string[], limit: number): Promise<string[][]>;
  /**
   * The user's current conversations, most recently active first (by time of the last message,
   * else creation), with unread count and last visible message. Cursor is opaque (malformed:
   * InvalidArgumentStoreError). `unread` may be capped at 9,999 to bound the cost.
   */
  listConversations(userId: string, opts: { limit: number; cursor?: string }): Promise<Page<ConversationSummary>>;

  /**
   * Opens a membership period for each user who is not a current member, with
   * `joinedSeq` = the conversation's lastSeq at that moment and watermarks = joinedSeq.
   * Returns the ids actually added (input order, without duplicates).
   */
  addMembers(conversationId: string, members: { userId: string; role: Role }[], opts?: AddOptions): Promise<string[]>;
  /** Closes the user's open period at the current lastSeq. False when not a current member. */
  removeMember(conversationId: string, userId: string): Promise<boolean>;
  /** Sets the role on the open period. False when not a current member. */
  setRole(conversationId: string, userId: string, role: Role): Promise<boolean>;

  /**
   * Appends a message: assigns the next seq atomically (strictly increasing per conversation,
   * gaps allowed) and stores it, or returns the original message with `duplicate: true` when
   * `(conversationId, senderId, clientMsgId)` already exists (also under concurrent repeats:
   * exactly one caller gets `duplicate: false`). Throws `NotFoundStoreError` if the
   * conversation does not exist.
   */
  appendMessage(input: NewMessage): Promise<AppendResult>;
  /** Appends several messages (any conversations) in as few round trips as the adapter can. */
  appendMessages(inputs: NewMessage[]): Promise<AppendResult[]>;
  getMessage(messageId: string): Promise<Message | null>;
  getMessageByClientId(conversationId: string, senderId: string, clientMsgId: string): Promise<Message | null>;
  /**
   * A page of visible messages: with `after` oldest first, otherwise newest first. An oldest-first
   * page never ends before a visible message that is stored, nor skips a seq that could still be
   * filled: a page shorter than `limit` means the caller has caught up (sync's `hasMore`). An
   * adapter that reserves seqs before storing must close such gaps (sync.contract.ts).
   */
  pageMessages(q: MessagePageQuery): Promise<Message[]>;
  /**
   * Applies an edit, deletion or reaction atomically: when it changes anything it takes the
   * next seq of the conversation as the message's `updatedSeq`; a no-op takes no seq and
   * writes nothing. A deletion removes text, attachment and reactions for good; a deleted
   * message takes no further change. Null when the message is not in that conversation.
   */
  changeMessage(change: MessageChange): Promise<ChangeResult | null>;
  /** A page of changed messages in their current state, by `updatedSeq` ascending. */
  pageChanges(q: ChangePageQuery): Promise<Message[]>;

  /**
   * Moves watermarks forward only (`max(current, seq)`, also capped at lastSeq) on the user's
   * open period. Returns, for each update, the value it stored (after the cap) when it moved
   * the watermark, else `false`. Updates for non-members are no-ops.
   */
  advanceWatermarks(updates: WatermarkUpdate[]): Promise<(number | false)[]>;

  /** Read-receipt privacy; default true for users never set. */
  getReadReceipts(userId: string): Promise<boolean>;
  setReadReceipts(userId: string, on: boolean): Promise<void>;
}

/** The database could not be reached or timed out: callers answer UNAVAILABLE. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  /** A fixed word for operator surfaces (`/readyz`), e.g. `majority-lag`; never driver text. */
  reason?: string;
}

/** The conversation the operation refers to does not exist. */
export class NotFoundStoreError extends Error {
  override name = 'NotFoundStoreError';
}

/** A user to add already holds the most open memberships allowed: callers answer CONFLICT. */
export class ConflictStoreError extends Error {
  override name = 'ConflictStoreError';
  constructor(
    message: string,
    readonly userIds: string[],
  ) {
    super(message);
  }
}

/** A cursor or other argument the adapter cannot use: callers answer INVALID_ARGUMENT. */
export class InvalidArgumentStoreError extends Error {
  override name = 'InvalidArgumentStoreError';
}
