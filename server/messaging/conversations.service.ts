// Conversations: lifecycle and membership (create, join, leave, add, remove, set role) and the
// reads around them (the caller's list, the member list, the rooms a socket joins at connect).
// Each change takes a `membership` rate-limit point before any store read, is stored, then
// written as a `system` message (delivered like any other), then put in force for live
// delivery on every node before the caller acknowledges.
import { randomUUID } from 'node:crypto';
import type {
  AddMembers,
  Conversation,
  ConversationCreate,
  ConversationListItem,
  ListConversationsResponse,
  Member,
  Membership,
  Role,
  SetRole,
  SystemEvent,
} from '../../protocol/index.js';
import { LIMITS } from '../../protocol/index.js';
import { AppError } from '../errors.js';
import type { ConversationSummary, Store } from '../store/store.js';
import type { DeliveryQueue, Limiter, Realtime } from './ports.js';
import { mayBeAdded, noticeOf } from './membership-bounds.js';
import { canAddMembers, canRemove, canSetRole, readPositionShown, speaksInRoom, successor } from './policy.js';

export interface ConversationDeps {
  store: Store;
  realtime: Realtime;
  delivery: DeliveryQueue;
  limiter: Limiter;
  maxMembers?: number;
  /** Open conversations per user (§7). */
  maxConversationsPerUser?: number;
}

interface PageRequest {
  limit?: number;
  cursor?: string;
}

function toListItem(s: ConversationSummary): ConversationListItem {
  return { ...s.conversation, role: s.role, unread: s.unread, ...(s.lastMessage ? { lastMessage: s.lastMessage } : {}) };
}

/** A member as `viewerId` sees it: `readSeq` only where the privacy rule shows it. */
function toVisibleMember(m: Member & { readReceipts: boolean }, viewerId: string): Member {
  const { readReceipts, readSeq, ...rest } = m;
  const shown = readPositionShown(readReceipts, m.userId === viewerId);
  return { ...rest, ...(shown && readSeq !== undefined ? { readSeq } : {}) };
}

/** Parsed payloads (the schemas have already run). */
type Create = ConversationCreate & { title?: string };

export function createConversationService(deps: ConversationDeps) {
  const { store, realtime, delivery, limiter } = deps;
  const maxMembers = deps.maxMembers ?? LIMITS.groupMaxMembers;
  const cap = { maxOpenPerUser: deps.maxConversationsPerUser ?? LIMITS.userMaxConversations };
  /** Every change takes its point first, before any store read. */
  const change = (actorId: string) => limiter.consume('membership', actorId);

  /** Stores and enqueues a system message; returns the conversation with its new lastSeq. */
  async function announce(conversation: Conversation, system: SystemEvent): Promise<Conversation> {
    const { message } = await store.appendMessage({
      conversationId: conversation.id,
      senderId: system.actorId,
      clientMsgId: `sys-${randomUUID()}`,
      kind: 'system',
      system,
    });
    await delivery.enqueue([message]);
    return { ...conversation, lastSeq: Math.max(conversation.lastSeq, message.seq) };
  }

  /**
   * The caller's conversation and current membership. Non-members get NOT_FOUND for private
   * conversations (existence does not leak) and FORBIDDEN for public ones.
   */
  async function requireMember(conversationId: string, userId: string): Promise<{ conversation: Conversation; membership: Membership }> {
    const [conversation, membership] = await Promise.all([
      store.getConversation(conversationId),
      store.getMembership(conversationId, userId),
    ]);
    if (!conversation) throw new AppError('NOT_FOUND', 'conversation not found');
    if (!membership) {
      if (conversation.public) throw new AppError('FORBIDDEN', 'not a member of this conversation');
      throw new AppError('NOT_FOUND', 'conversation not found');
    }
    return { conversation, membership };
  }

  function requireQueue(): void {
    if (!delivery.available()) throw new AppError('UNAVAILABLE', 'delivery queue is unavailable, retry later');
  }

  async function create(actorId: string, input: Create): Promise<Conversation> {
    await change(actorId);
    requireQueue();
    if (input.type === 'direct') {
      if (input.peerId === actorId) throw new AppError('INVALID_ARGUMENT', 'peerId: cannot start a direct conversation with yourself', { field: 'peerId' });
      const { conversation, created } = await store.createConversation({
        type: 'direct',
        createdBy: actorId,
        public: false,
        members: [
          { userId: actorId, role: 'member' },
          { userId: input.peerId, role: 'member' },
        ],
        ...cap,
      });
      if (!created) return conversation;
      const userIds = [actorId, input.peerId];
      realtime.subscribe(userIds, conversation.id);
      await realtime.membershipChanged(conversation.id);
      const announced = await announce(conversation, { action: 'created', actorId, userIds: [input.peerId] });
      realtime.conversationUpdated(conversation.id, { conversation: announced, change: { action: 'created', userIds } }, userIds);
      return announced;
    }
    const named = [...new Set(input.memberIds ?? [])].filter((id) => id !== actorId);
    if (named.length + 1 > maxMembers) throw new AppError('INVALID_ARGUMENT', `memberIds: at most ${maxMembers} members`, { field: 'memberIds' });
    const others = await mayBeAdded(limiter, named);
    const { conversation } = await store.createConversation({
      type: input.type,
      title: input.title,
      createdBy: actorId,
      public: input.public ?? false,
      members: [{ userId: actorId, role: 'owner' }, ...others.map((userId) => ({ userId, role: 'member' as Role }))],
      ...cap,
    });
    const userIds = [actorId, ...others];
    realtime.subscribe(userIds, conversation.id);
    await realtime.membershipChanged(conversation.id);
    const announced = await announce(conversation, { action: 'created', actorId, ...noticeOf(others) });
    realtime.conversationUpdated(conversation.id, { conversation: announced, change: { action: 'created', ...noticeOf(userIds) } }, userIds);
    return announced;
  }

  async function join(actorId: string, conversationId: string): Promise<{ conversation: Conversation; membership: Membership }> {
    await change(actorId);
    requireQueue();
    const conversation = await store.getConversation(conversationId);
    if (!conversation) throw new AppError('NOT_FOUND', 'conversation not found');
    const existing = await store.getMembership(conversationId, actorId);
    if (existing) return { conversation, membership: existing };
    if (!conversation.public || conversation.type === 'direct') throw new AppError('NOT_FOUND', 'conversation not found');
    if ((await store.countMembers(conversationId)) >= maxMembers) throw new AppError('CONFLICT', 'conversation is full');
    // Nobody added: a concurrent join of the same user won, and it announces (#14).
    if ((await store.addMembers(conversationId, [{ userId: actorId, role: 'member' }], cap)).length === 0) {
      const membership = await store.getMembership(conversationId, actorId);
      if (!membership) throw new AppError('CONFLICT', 'membership changed concurrently, retry');
      return { conversation, membership };
    }
    realtime.subscribe([actorId], conversationId);
    await realtime.membershipChanged(conversationId);
    const announced = await announce(conversation, { action: 'joined', actorId });
    const membership = await store.getMembership(conversationId, actorId);
    if (!membership) throw new AppError('CONFLICT', 'membership changed concurrently, retry');
    realtime.conversationUpdated(conversationId, { conversation: announced, change: { action: 'joined', userIds: [actorId] } });
    return { conversation: announced, membership };
  }

  async function leave(actorId: string, conversationId: string): Promise<void> {
    await change(actorId);
    return leaveNow(actorId, conversationId);
  }

  async function leaveNow(actorId: string, conversationId: string): Promise<void> {
    requireQueue();
    const { conversation, membership } = await requireMember(conversationId, actorId);
    if (conversation.type === 'direct') throw new AppError('FORBIDDEN', 'cannot leave a direct conversation');
    if (!(await store.removeMember(conversationId, actorId))) return;
    realtime.unsubscribe([actorId], conversationId);
    await realtime.membershipChanged(conversationId);
    const announced = await announce(conversation, { action: 'left', actorId });
    realtime.conversationUpdated(conversationId, { conversation: announced, change: { action: 'left', userIds: [actorId] } }, [actorId]);
    if (membership.role === 'owner') await handOver(announced, actorId);
  }

  /**
   * A group always has an owner (§7): when the last one left and members remain, ownership
   * passes to the longest-standing admin, else moderator, else member. Reads every member once;
   * only an owner's leave pays it.
   */
  async function handOver(conversation: Conversation, leaverId: string): Promise<void> {
    const members: Member[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listMembers(conversation.id, { limit: 1_000, ...(cursor ? { cursor } : {}) });
      members.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    if (members.some((m) => m.role === 'owner')) return;
    const heir = successor(members);
    if (!heir || !(await store.setRole(conversation.id, heir.userId, 'owner'))) return;
    await realtime.membershipChanged(conversation.id);
    const announced = await announce(conversation, { action: 'role', actorId: leaverId, userIds: [heir.userId], role: 'owner' });
    realtime.conversationUpdated(conversation.id, { conversation: announced, change: { action: 'role', userIds: [heir.userId] } });
  }

  async function addMembers(actorId: string, input: AddMembers): Promise<string[]> {
    await change(actorId);
    requireQueue();
    const { conversation, membership } = await requireMember(input.conversationId, actorId);
    if (!canAddMembers(conversation.type, membership.role)) throw new AppError('FORBIDDEN', 'only owners, admins and moderators add members');
    const named = [...new Set(input.userIds)];
    if ((await store.countMembers(conversation.id)) + named.length > maxMembers)
      throw new AppError('CONFLICT', `a conversation has at most ${maxMembers} members`);
    const wanted = await mayBeAdded(limiter, named.filter((u) => u !== actorId));
    const added = await store.addMembers(conversation.id, wanted.map((userId) => ({ userId, role: 'member' as Role })), cap);
    if (added.length === 0) return added;
    realtime.subscribe(added, conversation.id);
    await realtime.membershipChanged(conversation.id);
    const announced = await announce(conversation, { action: 'added', actorId, ...noticeOf(added) });
    realtime.conversationUpdated(conversation.id, { conversation: announced, change: { action: 'added', ...noticeOf(added) } }, added);
    return added;
  }

  async function removeMember(actorId: string, conversationId: string, userId: string): Promise<void> {
    await change(actorId);
    requireQueue();
    if (userId === actorId) return leaveNow(actorId, conversationId);
    const { conversation, membership } = await requireMember(conversationId, actorId);
    const target = await store.getMembership(conversationId, userId);
    if (!target) throw new AppError('NOT_FOUND', 'user is not a member');
    if (!canRemove(conversation.type, membership.role, target.role)) throw new AppError('FORBIDDEN', 'your role cannot remove this member');
    if (!(await store.removeMember(conversationId, userId))) return;
    // Out of the room on every node first, so nothing sent after this ack reaches them.
    realtime.unsubscribe([userId], conversationId);
    await realtime.membershipChanged(conversationId);
    const announced = await announce(conversation, { action: 'removed', actorId, userIds: [userId] });
    realtime.conversationUpdated(conversationId, { conversation: announced, change: { action: 'removed', userIds: [userId] } }, [userId]);
  }

  async function setRole(actorId: string, input: SetRole): Promise<void> {
    await change(actorId);
    requireQueue();
    const { conversation, membership } = await requireMember(input.conversationId, actorId);
    if (input.userId === actorId) throw new AppError('FORBIDDEN', 'cannot change your own role');
    const target = await store.getMembership(conversation.id, input.userId);
    if (!target) throw new AppError('NOT_FOUND', 'user is not a member');
    if (!canSetRole(conversation.type, membership.role, target.role, input.role))
      throw new AppError('FORBIDDEN', 'your role cannot grant this role');
    if (target.role === input.role) return;
    if (!(await store.setRole(conversation.id, input.userId, input.role))) throw new AppError('NOT_FOUND', 'user is not a member');
    await realtime.membershipChanged(conversation.id);
    const announced = await announce(conversation, { action: 'role', actorId, userIds: [input.userId], role: input.role });
    realtime.conversationUpdated(conversation.id, { conversation: announced, change: { action: 'role', userIds: [input.userId] } });
  }

  /** The caller's conversations, most recently active first (§6). */
  async function list(userId: string, page: PageRequest): Promise<ListConversationsResponse> {
    await limiter.consume('read', userId);
    const result = await store.listConversations(userId, { limit: page.limit ?? LIMITS.pageDefault, ...(page.cursor ? { cursor: page.cursor } : {}) });
    return { conversations: result.items.map(toListItem), ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}) };
  }

  /** Current members as the caller may see them; callers outside get requireMember's answer. */
  async function listMembers(userId: string, conversationId: string, page: PageRequest): Promise<{ members: Member[]; nextCursor?: string }> {
    await limiter.consume('read', userId);
    const { conversation, membership } = await requireMember(conversationId, userId);
    // A channel's subscribers are not listed to each other (§7).
    if (!speaksInRoom(conversation.type, membership.role)) throw new AppError('FORBIDDEN', 'only owners, admins and moderators list the members of a channel');
    const result = await store.listMembers(conversationId, { limit: page.limit ?? LIMITS.pageDefault, ...(page.cursor ? { cursor: page.cursor } : {}) });
    return { members: result.items.map((m) => toVisibleMember(m, userId)), ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}) };
  }

  return { create, join, leave, addMembers, removeMember, setRole, requireMember, list, listMembers };
}

export type ConversationService = ReturnType<typeof createConversationService>;
