// PostgreSQL adapter of the store port. Seqs come from `conversations.last_seq`, bumped in the
// same statement or transaction that inserts the message, so the conversation row lock is the
// one point that orders appends and membership changes of a conversation (sql.ts says how).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Conversation, Member, Membership, Message, Role } from '../../../protocol/index.js';
import { checkNewConversation, encodeCursor, membersCursor, parseCursor, uniqueMembers } from '../shared.js';
import { NotFoundStoreError, type AddOptions, type AppendResult, type ChangePageQuery, type ChangeResult, type ConversationSummary, type MessageChange, type MessagePageQuery, type NewConversation, type NewMessage, type Page, type Period, type PeriodRange, type Store, type WatermarkUpdate } from '../store.js';
import { createPool, isUniqueViolation, prepared, query, toStoreError, transaction, withClient, type PoolOptions } from './db.js';
import { underMemberCap } from './member-cap.js';
import { ensureDatabase, migrate } from './migrate.js';
import { lastMessageOf, parseMessageId, toConversation, toMember, toMembership, toMessage, type ConversationRow, type ListRow, type MembershipRow, type MessageRow } from './rows.js';
import { isListCursor } from './paging.js';
import * as SQL from './sql.js';
import { appendBatch, appendBatchInOneStatement } from './append-batch.js';
import { createPointReads } from './point-reads.js';
import { changeMessage } from './changes.js';
import { createSyncReads } from './sync-reads.js';

export class PostgresStore implements Store {
  readonly name = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly url: string;
  private closing?: Promise<void>;
  private readonly reads = createPointReads((text, values) => this.q(text, values));
  private readonly syncReads = createSyncReads((text, values) => this.q(text, values));

  constructor(opts: PoolOptions) {
    this.url = opts.url;
    this.pool = createPool(opts);
  }

  /** Every public method runs through here: connection failures become StoreUnavailableError. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  private q<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return query<R>(this.pool, text, values);
  }

  init(): Promise<void> {
    return this.guard(async () => {
      await ensureDatabase(this.url, () => this.q('SELECT 1'));
      await migrate(this.pool);
    });
  }

  ping(): Promise<void> {
    return this.guard(async () => {
      await this.q('SELECT 1');
    });
  }

  async close(): Promise<void> {
    this.closing ??= this.pool.end();
    await this.closing;
  }

  createConversation(input: NewConversation): Promise<{ conversation: Conversation; created: boolean }> {
    return this.guard(async () => {
      const { members, directKey = null } = checkNewConversation(input);
      const id = randomUUID().replaceAll('-', '');
      const values = [id, input.type, input.title ?? null, input.createdBy, input.public, directKey, members.map((m) => m.userId), members.map((m) => m.role)];
      const { rows } =
        input.maxOpenPerUser === undefined
          ? await this.q<ConversationRow>(SQL.CREATE_CONVERSATION, values)
          : await underMemberCap(this.pool, members.map((m) => m.userId), id, input.maxOpenPerUser, (c) =>
              c.query<ConversationRow>(prepared(SQL.CREATE_CONVERSATION, values)),
            );
      if (rows[0]) return { conversation: toConversation(rows[0]), created: true };
      const existing = await this.q<ConversationRow>(SQL.GET_CONVERSATION_BY_DIRECT_KEY, [directKey]);
      if (!existing.rows[0]) throw new Error('direct conversation conflicted but cannot be read');
      return { conversation: toConversation(existing.rows[0]), created: false };
    });
  }

  getConversation(conversationId: string): Promise<Conversation | null> {
    return this.guard(() => this.reads.conversation(conversationId));
  }

  getMembership(conversationId: string, userId: string): Promise<Membership | null> {
    return this.guard(() => this.reads.membership(conversationId, userId));
  }

  listPeriods(conversationId: string, userId: string, range?: PeriodRange): Promise<Period[]> {
    return this.guard(async () => {
      if (range?.after !== undefined) return this.syncReads.periodsAfter(conversationId, userId, range.after, range.limit);
      const [text, values] = !range
        ? [SQL.LIST_PERIODS, [conversationId, userId]]
        : [SQL.LIST_PERIODS_BEFORE, [conversationId, userId, range.before ?? SQL.MAX_SEQ, range.limit]];
      const { rows } = await this.q<{ joined_seq: number; left_seq: number | null }>(text, values);
      return rows.map((r) => ({ afterSeq: r.joined_seq, untilSeq: r.left_seq }));
    });
  }

  countMembers(conversationId: string): Promise<number> {
    return this.guard(async () => {
      const { rows } = await this.q<{ n: number }>(SQL.COUNT_MEMBERS, [conversationId]);
      return rows[0]?.n ?? 0;
    });
  }

  listMembers(conversationId: string, opts: { limit: number; cursor?: string }): Promise<Page<Member & { readReceipts: boolean }>> {
    return this.guard(async () => {
      const after = membersCursor.parse(opts.cursor);
      const { rows } = await this.q<MembershipRow & { read_receipts: boolean }>(SQL.LIST_MEMBERS, [
        conversationId,
        after ?? '',
        opts.limit + 1,
      ]);
      const items = rows.slice(0, opts.limit).map(toMember);
      const last = items.at(-1);
      return rows.length > opts.limit && last ? { items, nextCursor: membersCursor.encode(last.userId) } : { items };
    });
  }

  listConversationIds(userId: string, limit?: number): Promise<string[]> {
    return this.guard(async () => {
      const { rows } = await this.q<{ conversation_id: string }>(SQL.LIST_CONVERSATION_IDS, [userId, limit ?? null]);
      return rows.map((r) => r.conversation_id);
    });
  }

  listConversationIdsOfUsers(userIds: readonly string[], limit: number): Promise<string[][]> {
    return this.guard(async () => {
      const { rows } = await this.q<{ ids: string[] }>(SQL.LIST_CONVERSATION_IDS_OF_USERS, [userIds, limit]);
      return rows.map((r) => r.ids);
    });
  }

  listConversations(userId: string, opts: { limit: number; cursor?: string }): Promise<Page<ConversationSummary>> {
    return this.guard(async () => {
      const after = parseCursor(opts.cursor, isListCursor);
      const { rows } = await this.q<ListRow>(SQL.LIST_CONVERSATIONS, [userId, after?.[0] ?? null, after?.[1] ?? null, opts.limit + 1]);
      const page = rows.slice(0, opts.limit);
      const items = page.map((r): ConversationSummary => {
        const lastMessage = lastMessageOf(r);
        return { conversation: toConversation(r), role: r.role, unread: r.unread, ...(lastMessage && { lastMessage }) };
      });
      const last = page.at(-1);
      return rows.length > opts.limit && last ? { items, nextCursor: encodeCursor([last.activity_us, last.id]) } : { items };
    });
  }

  addMembers(conversationId: string, members: { userId: string; role: Role }[], opts: AddOptions = {}): Promise<string[]> {
    return this.guard(async () => {
      const unique = uniqueMembers(members);
      if (unique.length === 0) return [];
      const values = [conversationId, unique.map((m) => m.userId), unique.map((m) => m.role)];
      const { rows } =
        opts.maxOpenPerUser === undefined
          ? await this.q<{ user_id: string }>(SQL.ADD_MEMBERS, values)
          : await underMemberCap(this.pool, unique.map((m) => m.userId), conversationId, opts.maxOpenPerUser, (c) =>
              c.query<{ user_id: string }>(prepared(SQL.ADD_MEMBERS, values)),
            );
      if (rows.length === 0 && (await this.q(SQL.CONVERSATION_EXISTS, [conversationId])).rowCount === 0) {
        throw new NotFoundStoreError(`conversation ${conversationId} not found`);
      }
      const added = new Set(rows.map((r) => r.user_id));
      return unique.map((m) => m.userId).filter((id) => added.has(id));
    });
  }

  removeMember(conversationId: string, userId: string): Promise<boolean> {
    return this.guard(async () => (await this.q(SQL.REMOVE_MEMBER, [conversationId, userId])).rowCount === 1);
  }

  setRole(conversationId: string, userId: string, role: Role): Promise<boolean> {
    return this.guard(async () => (await this.q(SQL.SET_ROLE, [conversationId, userId, role])).rowCount === 1);
  }

  appendMessage(input: NewMessage): Promise<AppendResult> {
    return this.guard(async () => {
      try {
        const { rows } = await this.q<MessageRow>(SQL.APPEND_MESSAGE, [
          input.conversationId,
          input.senderId,
          input.clientMsgId,
          input.kind,
          input.text ?? null,
          input.attachment ? JSON.stringify(input.attachment) : null,
          input.system ? JSON.stringify(input.system) : null,
          input.senderSeen === true,
        ]);
        if (!rows[0]) throw new NotFoundStoreError(`conversation ${input.conversationId} not found`);
        return { message: toMessage(rows[0]), duplicate: false };
      } catch (err) {
        if (!isUniqueViolation(err, 'messages_client_msg_key')) throw err;
      }
      const original = await this.getMessageByClientId(input.conversationId, input.senderId, input.clientMsgId);
      // Message rows are never removed (a deletion clears fields), so the row that made the insert fail is still there.
      if (!original) throw new Error('duplicate client_msg_id but the original cannot be read');
      return { message: original, duplicate: true };
    });
  }

  appendMessages(inputs: NewMessage[]): Promise<AppendResult[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    return this.guard(async () => {
      const run = (config: pg.QueryConfig) => withClient(this.pool, (client) => client.query(config));
      const done = await appendBatchInOneStatement(run, inputs, (err) => isUniqueViolation(err, 'messages_client_msg_key'));
      return done ?? transaction(this.pool, (client) => appendBatch(client, inputs));
    });
  }

  getMessage(messageId: string): Promise<Message | null> {
    return this.guard(async () => {
      const key = parseMessageId(messageId);
      if (!key) return null;
      const { rows } = await this.q<MessageRow>(SQL.GET_MESSAGE, [key.conversationId, key.seq]);
      return rows[0] ? toMessage(rows[0]) : null;
    });
  }

  getMessageByClientId(conversationId: string, senderId: string, clientMsgId: string): Promise<Message | null> {
    return this.guard(async () => {
      const { rows } = await this.q<MessageRow>(SQL.GET_MESSAGE_BY_CLIENT_ID, [conversationId, senderId, clientMsgId]);
      return rows[0] ? toMessage(rows[0]) : null;
    });
  }

  pageMessages(q: MessagePageQuery): Promise<Message[]> {
    return this.guard(() => this.syncReads.pageMessages(q));
  }

  changeMessage(change: MessageChange): Promise<ChangeResult | null> {
    return this.guard(() => changeMessage((fn) => transaction(this.pool, fn), change));
  }

  pageChanges(q: ChangePageQuery): Promise<Message[]> {
    return this.guard(() => this.syncReads.pageChanges(q));
  }

  advanceWatermarks(updates: WatermarkUpdate[]): Promise<(number | false)[]> {
    if (updates.length === 0) return Promise.resolve([]);
    return this.guard(async () => {
      const { rows } = await this.q<{ conversation_id: string; user_id: string; old_delivered: number; old_read: number; last_seq: number }>(
        SQL.ADVANCE_WATERMARKS,
        [updates.map((u) => u.conversationId), updates.map((u) => u.userId), updates.map((u) => u.type), updates.map((u) => u.seq)],
      );
      // Replay the updates in order from the values before the statement to say which moved.
      const state = new Map(rows.map((r) => [key(r.conversation_id, r.user_id), { delivered: r.old_delivered, read: r.old_read, cap: r.last_seq }]));
      return updates.map((u) => {
        const s = state.get(key(u.conversationId, u.userId));
        if (!s) return false;
        const to = Math.min(u.seq, s.cap);
        if (to <= s[u.type]) return false;
        s[u.type] = to;
        return to;
      });
    });
  }

  getReadReceipts(userId: string): Promise<boolean> {
    return this.guard(async () => {
      const { rows } = await this.q<{ read_receipts: boolean }>(SQL.GET_READ_RECEIPTS, [userId]);
      return rows[0]?.read_receipts ?? true;
    });
  }

  setReadReceipts(userId: string, on: boolean): Promise<void> {
    return this.guard(async () => {
      await this.q(SQL.SET_READ_RECEIPTS, [userId, on]);
    });
  }
}

function key(conversationId: string, userId: string): string {
  return JSON.stringify([conversationId, userId]);
}
