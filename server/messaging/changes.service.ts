// Edits, deletions and reactions (PROTOCOL.md §9). The socket handlers and the REST routers call
// exactly these functions. Each one: rate limit (family `change`, before any read, §7) →
// membership → the message, visible to the caller → permission → store the change (which takes
// the next seq, or nothing for a no-op) → enqueue its `message:updated` job → answer.
import type { Message } from '../../protocol/index.js';
import { AppError } from '../errors.js';
import { visibleRanges } from '../store/shared.js';
import type { MessageChange, Store } from '../store/store.js';
import type { AccessCache } from './access-cache.js';
import { canModerate, canPost } from './policy.js';
import type { DeliveryQueue, Limiter } from './ports.js';

export interface ChangeDeps {
  store: Store;
  delivery: DeliveryQueue;
  limiter: Limiter;
  access: AccessCache;
  /** How long after sending its sender may edit a message, ms (`EDIT_WINDOW_S`). */
  editWindowMs: number;
}

interface MessageRef {
  conversationId: string;
  messageId: string;
}

const notFound = () => new AppError('NOT_FOUND', 'message not found');

export function createChangeService(deps: ChangeDeps) {
  const { store, delivery, limiter } = deps;

  /** The caller's access and the message, which must be one the caller may read. */
  async function load(userId: string, ref: MessageRef) {
    await limiter.consume('change', userId);
    const access = await deps.access.require(ref.conversationId, userId);
    const [message, periods] = await Promise.all([store.getMessage(ref.messageId), store.listPeriods(ref.conversationId, userId)]);
    if (!message || message.conversationId !== ref.conversationId || message.kind === 'system') throw notFound();
    if (visibleRanges(periods, { after: message.seq - 1, before: message.seq + 1 }).length === 0) throw notFound();
    return { access, message };
  }

  /**
   * Stores the change and enqueues its delivery. A no-op enqueues the current state's job again,
   * which BullMQ ignores while that job exists: a client retrying after a failed enqueue still
   * gets the change delivered, and a plain repeat costs no second `message:updated`.
   */
  async function apply(change: MessageChange): Promise<Message> {
    // As for sends: refuse before storing when the queue is down, so nothing is half-done.
    if (!delivery.available()) throw new AppError('UNAVAILABLE', 'delivery queue is unavailable, retry later');
    const result = await store.changeMessage(change);
    if (!result) throw notFound();
    if (result.message.updatedSeq !== undefined) await delivery.enqueueUpdate(result.message);
    return result.message;
  }

  async function edit(userId: string, input: MessageRef & { text: string }): Promise<{ message: Message }> {
    const { access, message } = await load(userId, input);
    if (message.deletedAt) throw notFound();
    if (message.senderId !== userId) throw new AppError('FORBIDDEN', 'only the sender edits a message');
    if (message.kind !== 'text') throw new AppError('FORBIDDEN', 'only text messages are edited');
    if (!canPost(access.type, access.role)) throw new AppError('FORBIDDEN', 'only owners, admins and moderators post in a channel');
    if (Date.now() - Date.parse(message.createdAt) > deps.editWindowMs) throw new AppError('FORBIDDEN', 'the edit window of this message has passed');
    const current = await apply({ ...input, type: 'edit', text: input.text });
    // Deleted between the read and the write: the edit did not happen.
    if (current.deletedAt) throw notFound();
    return { message: current };
  }

  async function remove(userId: string, input: MessageRef): Promise<void> {
    const { access, message } = await load(userId, input);
    if (message.deletedAt) return;
    if (message.senderId !== userId && !canModerate(access.type, access.role))
      throw new AppError('FORBIDDEN', 'only the sender, or an owner, admin or moderator, deletes a message');
    await apply({ ...input, type: 'delete' });
  }

  /** Any member who may read the message reacts, channel members included. */
  async function react(userId: string, input: MessageRef & { emoji: string; on: boolean }): Promise<void> {
    const { message } = await load(userId, input);
    if (message.deletedAt) throw notFound();
    const current = await apply({ ...input, type: 'react', userId, emoji: input.emoji, on: input.on });
    if (current.deletedAt) throw notFound();
  }

  return { edit, remove, react };
}

export type ChangeService = ReturnType<typeof createChangeService>;
