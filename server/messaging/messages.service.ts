// Sending, reading and acknowledging messages. The socket handlers and the REST routers call
// exactly these functions, so a send over REST and over a socket is the same code.
import type { HistoryResponse, Message, MessageBody, Settings } from '../../protocol/index.js';
import { LIMITS } from '../../protocol/index.js';
import { AppError } from '../errors.js';
import { pageVisibleMessages } from '../store/history.js';
import type { Store, WatermarkType } from '../store/store.js';
import type { ConversationService } from './conversations.service.js';
import type { DeliveryQueue, Limiter, Realtime } from './ports.js';
import { canPost, readPositionShown, speaksInRoom } from './policy.js';
import type { AccessCache } from './access-cache.js';
import type { SendPipeline, SendResult } from './send-pipeline.js';
import { mergeSyncPage } from './sync-merge.js';
import type { WatermarkBatcher } from './watermarks.js';

/** Reads of messages per sync page when every message read was changed since (see sync). */
const MAX_SYNC_ROUNDS = 20;

export interface MessageDeps {
  store: Store;
  realtime: Realtime;
  delivery: DeliveryQueue;
  limiter: Limiter;
  conversations: ConversationService;
  watermarks: WatermarkBatcher;
  /** How sends are stored and enqueued (per batch; see send-pipeline.ts). */
  sends: SendPipeline;
  /** Membership checks of the hot paths (send, receipts, typing), cached per node. */
  access: AccessCache;
  /** Allowed attachment URL hosts; empty allows any https: host. */
  attachmentHosts: readonly string[];
}

export interface SendInput extends MessageBody {
  conversationId: string;
  clientMsgId: string;
  text?: string;
}

export function createMessageService(deps: MessageDeps) {
  const { store, realtime, delivery, limiter, conversations, watermarks } = deps;
  const { sends } = deps;

  function checkAttachmentHost(url: string): void {
    if (deps.attachmentHosts.length === 0) return;
    const host = new URL(url).hostname;
    if (!deps.attachmentHosts.includes(host))
      throw new AppError('INVALID_ARGUMENT', 'attachment.url: host is not allowed', { field: 'attachment.url' });
  }

  /**
   * validate (done by the caller's schema) → authorise → rate limit → store (idempotent) →
   * enqueue delivery → return. Resolves only when the message is stored and its job enqueued.
   */
  async function send(senderId: string, input: SendInput): Promise<SendResult> {
    await limiter.consume('send', senderId);
    if (input.attachment) checkAttachmentHost(input.attachment.url);
    const access = await deps.access.require(input.conversationId, senderId);
    if (!canPost(access.type, access.role)) throw new AppError('FORBIDDEN', 'only owners, admins and moderators post in a channel');
    // Refuse before storing when the queue is unreachable, so a failed send leaves nothing
    // half-done (stored but never delivered). The client retries with the same clientMsgId.
    if (!delivery.available()) throw new AppError('UNAVAILABLE', 'delivery queue is unavailable, retry later');
    return sends.submit({
      conversationId: input.conversationId,
      senderId,
      clientMsgId: input.clientMsgId,
      kind: input.kind,
      ...(input.text !== undefined ? { text: input.text } : {}),
      ...(input.attachment ? { attachment: input.attachment } : {}),
    });
  }

  /** A page of what the caller may see: the membership check, then only the periods near the page (§7). */
  async function visiblePage(userId: string, conversationId: string, bounds: { after?: number; before?: number }, limit: number): Promise<Message[]> {
    await conversations.requireMember(conversationId, userId);
    return pageVisibleMessages(store, { conversationId, userId, ...bounds, limit });
  }

  /**
   * Messages after `afterSeq` and messages changed after it (§9), in seq order, for a client
   * catching up after a reconnect (sync-merge.ts says how the two reads make one page).
   */
  async function sync(userId: string, input: { conversationId: string; afterSeq: number; limit?: number }) {
    await limiter.consume('read', userId);
    const limit = input.limit ?? LIMITS.syncDefault;
    const { conversationId, afterSeq } = input;
    const { conversation } = await conversations.requireMember(conversationId, userId);
    // Every message and every change takes the conversation's next seq, in the same write that
    // moves lastSeq (the store contract), and this lastSeq was read after the request arrived: at
    // or past it there is nothing to page. Most clients of a reconnect storm are caught up, and
    // this answers them with the membership reads alone instead of three more page queries.
    if (conversation.lastSeq <= afterSeq) return { messages: [], hasMore: false };
    // Changes may touch messages of any period: the store checks each changed message against
    // the one period that can hold it; new messages are read over the periods near the page
    // (history.ts). Neither reads all of a reader's periods (§7).
    const changed = await store.pageChanges({ conversationId, userId, after: afterSeq, limit: limit + 1 });
    // Messages changed since are in `changed` already; a run of them only moves the read on.
    for (let after = afterSeq, round = 0; round < MAX_SYNC_ROUNDS; round++) {
      const fresh = await pageVisibleMessages(store, { conversationId, userId, after, limit: limit + 1 });
      const unchangedCoverage = fresh.length > limit ? fresh.at(-1)!.seq : null;
      const unchanged = fresh.filter((m) => m.updatedSeq === undefined);
      const page = mergeSyncPage({ unchanged, unchangedCoverage, changed }, limit);
      if (page) return page;
      after = unchangedCoverage!;
    }
    throw new AppError('UNAVAILABLE', 'too many changed messages in a row; retry');
  }

  /** A keyset history page (PROTOCOL.md §6). */
  async function history(
    userId: string,
    input: { conversationId: string; before?: number; after?: number; limit?: number },
  ): Promise<HistoryResponse> {
    await limiter.consume('read', userId);
    const limit = input.limit ?? LIMITS.pageDefault;
    if (input.after !== undefined) {
      const page = await visiblePage(userId, input.conversationId, { after: input.after }, limit + 1);
      const messages = page.slice(0, limit);
      return page.length > limit ? { messages, nextAfter: messages[messages.length - 1]!.seq } : { messages };
    }
    const page = await visiblePage(userId, input.conversationId, input.before !== undefined ? { before: input.before } : {}, limit + 1);
    const messages = page.slice(0, limit);
    return page.length > limit ? { messages, nextBefore: messages[messages.length - 1]!.seq } : { messages };
  }

  /** Moves a delivered/read watermark forward and tells the room when it moved. */
  async function acknowledge(userId: string, type: WatermarkType, input: { conversationId: string; seq: number }): Promise<void> {
    await limiter.consume('receipt', userId);
    const access = await deps.access.require(input.conversationId, userId);
    const [stored] = await watermarks.advance([{ conversationId: input.conversationId, userId, type, seq: input.seq }]);
    if (stored === undefined || stored === false) return;
    // Stored for the member's own unread count; in a channel a plain member's is never broadcast.
    if (!speaksInRoom(access.type, access.role)) return;
    // The receipt goes to the room, i.e. to others: the privacy rule decides.
    if (type === 'read' && !readPositionShown(await watermarks.readReceiptsOn(userId), false)) return;
    // The stored value (capped at lastSeq), never the client's number (§7).
    realtime.receipt({ conversationId: input.conversationId, userId, type, seq: stored });
  }

  async function typing(userId: string, input: { conversationId: string; typing: boolean }): Promise<void> {
    await limiter.consume('typing', userId);
    const access = await deps.access.require(input.conversationId, userId);
    if (!speaksInRoom(access.type, access.role)) throw new AppError('FORBIDDEN', 'only owners, admins and moderators type in a channel');
    realtime.typing({ conversationId: input.conversationId, userId, typing: input.typing });
  }

  async function settings(userId: string): Promise<Pick<Settings, 'readReceipts'>> {
    return { readReceipts: await store.getReadReceipts(userId) };
  }

  async function setReadReceipts(userId: string, on: boolean): Promise<void> {
    await store.setReadReceipts(userId, on);
    watermarks.forgetSettings(userId);
  }

  return { send, sync, history, acknowledge, typing, settings, setReadReceipts };
}

export type MessageService = ReturnType<typeof createMessageService>;
