// The MongoDB adapter of the store port (mongoose on a dedicated connection). Semantics are the
// doc comments of store.ts; this file wires the collections to them. How each query is served is
// written next to the indexes in models.ts; divergences of the jongodb test server in JONGODB.md.
//
// No multi-document transactions: every operation is one atomic document write or ordered so
// that a crash between two writes leaves nothing a reader can trip over (create.ts);
// joins and leaves are ordered against appends through the conversation document (counter.ts).
import type { Conversation, Member, Membership, Message, Role } from '../../../protocol/index.js';
import {
  type AddOptions,
  type AppendResult,
  type ChangePageQuery,
  type ChangeResult,
  type MessageChange,
  type ConversationSummary,
  type MessagePageQuery,
  type NewConversation,
  type NewMessage,
  type Page,
  type Period,
  type PeriodRange,
  type Store,
  type WatermarkUpdate,
} from '../store.js';
import { appendMany, appendOne, probeActivityOperator } from './append.js';
import { createConversation, recordDirectPairs } from './create.js';
import { MongoConnection, type MongoConnectionOptions } from './connection.js';
import { isDuplicateKey } from './errors.js';
import { listConversations } from './inbox.js';
import { createMissingIndexes, dropRetiredIndexes, indexDrift, migrateIndexes, type IndexDrift } from './indexes.js';
import { parseId, toConversation, toMembership, toMessage } from './mappers.js';
import { pageMessages } from './history.js';
import { assertMajorityKeepsUp } from './readiness.js';
import { changeMessage, pageChanges } from './changes.js';
import * as memberships from './memberships.js';
import { createModels, GAP_KIND, op, type ConversationDoc, type MembershipDoc, type MessageDoc, type Models } from './models.js';

export type MongoStoreOptions = MongoConnectionOptions;

export class MongoStore implements Store {
  readonly name = 'mongo' as const;
  private readonly db: MongoConnection;
  private readonly m: Models;
  private drift: IndexDrift[] = [];

  constructor(opts: MongoStoreOptions) {
    this.db = new MongoConnection(opts);
    this.m = createModels(this.db.conn);
  }

  /**
   * Checks that writes and reads get majority durability (see connection.ts), then creates the
   * indexes that do not exist yet; an index whose definition changed is left for `migrate()`
   * (indexes.ts says why). Concurrent nodes starting is fine: createIndexes is idempotent.
   */
  init(): Promise<void> {
    return this.db.run(async () => {
      this.db.assertDurable();
      await probeActivityOperator(this.m);
      this.drift = await createMissingIndexes(this.db.conn, this.m);
    });
  }

  /**
   * Deploy step, run once per release before its nodes start: creates missing indexes and
   * rebuilds changed ones. With `dropRetired`, run once every node runs this release, it also
   * drops indexes no release uses any more (`direct_pair`: after recording every direct
   * conversation's pair in `direct_pairs`, create.ts).
   */
  migrate(opts: { dropRetired?: boolean } = {}): Promise<void> {
    return this.db.run(async () => {
      await migrateIndexes(this.db.conn, this.m);
      if (opts.dropRetired) {
        await recordDirectPairs(this.m);
        await dropRetiredIndexes(this.db.conn, this.m);
      }
      this.drift = await indexDrift(this.db.conn, this.m);
    });
  }

  /** Indexes that differ from models.ts, or are retired and still there, as of the last `init()`/`migrate()`. */
  indexDrift(): IndexDrift[] {
    return [...this.drift];
  }

  /** The write and read concern every operation of this store uses (for tests and start-up logs). */
  durability(): ReturnType<MongoConnection['durability']> {
    return this.db.durability();
  }

  /** /readyz: the primary answers and its majority keeps up (readiness.ts). */
  ping(): Promise<void> {
    return this.db.run(async () => {
      const hello = await this.db.conn.db!.admin().command({ hello: 1 });
      assertMajorityKeepsUp(hello, this.db.maxMajorityLagMs);
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** create.ts: first periods before the conversation; a direct pair claimed in `direct_pairs` first. */
  createConversation(input: NewConversation): Promise<{ conversation: Conversation; created: boolean }> {
    return this.db.run(() => createConversation(this.m, input));
  }

  getConversation(conversationId: string): Promise<Conversation | null> {
    return this.db.run(async () => {
      const id = parseId(conversationId);
      const doc = id && (await this.m.Conversation.findOne({ _id: id }).lean<ConversationDoc>());
      return doc ? toConversation(doc) : null;
    });
  }

  getMembership(conversationId: string, userId: string): Promise<Membership | null> {
    return this.db.run(async () => {
      const id = parseId(conversationId);
      const doc = id && (await this.m.Membership.findOne({ conversationId: id, userId, open: true }).lean<MembershipDoc>());
      return doc ? toMembership(doc) : null;
    });
  }

  listPeriods(conversationId: string, userId: string, range?: PeriodRange): Promise<Period[]> {
    return this.db.run(() => memberships.listPeriods(this.m, conversationId, userId, range));
  }

  countMembers(conversationId: string): Promise<number> {
    return this.db.run(async () => {
      const id = parseId(conversationId);
      return id ? this.m.Membership.countDocuments({ conversationId: id, open: true }) : 0;
    });
  }

  listMembers(conversationId: string, opts: { limit: number; cursor?: string }): Promise<Page<Member & { readReceipts: boolean }>> {
    return this.db.run(() => memberships.listMembers(this.m, conversationId, opts));
  }

  listConversationIds(userId: string, limit?: number): Promise<string[]> {
    return this.db.run(() => memberships.listConversationIds(this.m, userId, limit));
  }

  listConversationIdsOfUsers(userIds: readonly string[], limit: number): Promise<string[][]> {
    return this.db.run(() => Promise.all(userIds.map((u) => memberships.listConversationIds(this.m, u, limit))));
  }

  listConversations(userId: string, opts: { limit: number; cursor?: string }): Promise<Page<ConversationSummary>> {
    return this.db.run(() => listConversations(this.m, userId, opts));
  }

  addMembers(conversationId: string, members: { userId: string; role: Role }[], opts?: AddOptions): Promise<string[]> {
    return this.db.run(() => memberships.addMembers(this.m, conversationId, members, opts));
  }

  removeMember(conversationId: string, userId: string): Promise<boolean> {
    return this.db.run(() => memberships.removeMember(this.m, conversationId, userId));
  }

  setRole(conversationId: string, userId: string, role: Role): Promise<boolean> {
    return this.db.run(() => memberships.setRole(this.m, conversationId, userId, role));
  }

  appendMessage(input: NewMessage): Promise<AppendResult> {
    return this.db.run(async () => {
      const result = await appendOne(this.m, input);
      await this.markSenderSeen([input], [result]);
      return result;
    });
  }

  appendMessages(inputs: NewMessage[]): Promise<AppendResult[]> {
    return this.db.run(async () => {
      const results = await appendMany(this.m, inputs);
      await this.markSenderSeen(inputs, results);
      return results;
    });
  }

  /** MongoDB has no multi-collection statement: the senders' watermarks follow in one bulk write. */
  private async markSenderSeen(inputs: NewMessage[], results: AppendResult[]): Promise<void> {
    const updates = results.flatMap(({ message, duplicate }, i) =>
      inputs[i]!.senderSeen && !duplicate
        ? (['delivered', 'read'] as const).map((type) => ({ conversationId: message.conversationId, userId: message.senderId, type, seq: message.seq }))
        : [],
    );
    if (updates.length) await memberships.advanceWatermarks(this.m, updates);
  }

  getMessage(messageId: string): Promise<Message | null> {
    return this.db.run(async () => {
      const id = parseId(messageId);
      const doc = id && (await this.m.Message.findOne({ _id: id, kind: op({ $ne: GAP_KIND }) }).lean<MessageDoc>());
      return doc ? toMessage(doc) : null;
    });
  }

  getMessageByClientId(conversationId: string, senderId: string, clientMsgId: string): Promise<Message | null> {
    return this.db.run(async () => {
      const id = parseId(conversationId);
      const doc = id && (await this.m.Message.findOne({ conversationId: id, senderId, clientMsgId, kind: op({ $ne: GAP_KIND }) }).lean<MessageDoc>());
      return doc ? toMessage(doc) : null;
    });
  }

  pageMessages(q: MessagePageQuery): Promise<Message[]> {
    return this.db.run(() => pageMessages(this.m, q));
  }

  changeMessage(change: MessageChange): Promise<ChangeResult | null> {
    return this.db.run(() => changeMessage(this.m, change));
  }

  pageChanges(q: ChangePageQuery): Promise<Message[]> {
    return this.db.run(() => pageChanges(this.m, q));
  }

  advanceWatermarks(updates: WatermarkUpdate[]): Promise<(number | false)[]> {
    return this.db.run(() => memberships.advanceWatermarks(this.m, updates));
  }

  getReadReceipts(userId: string): Promise<boolean> {
    return this.db.run(async () => {
      const doc = await this.m.UserSettings.findOne({ _id: userId }).lean<{ readReceipts: boolean }>();
      return doc?.readReceipts ?? true;
    });
  }

  setReadReceipts(userId: string, on: boolean): Promise<void> {
    return this.db.run(async () => {
      const write = () => this.m.UserSettings.updateOne({ _id: userId }, { $set: { readReceipts: on } }, { upsert: true });
      // Two first-time upserts of one user can race on `_id`; the second then finds the document.
      await write().catch((err: unknown) => (isDuplicateKey(err) ? write() : Promise.reject(err)));
    });
  }
}
