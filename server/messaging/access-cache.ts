// Who may do what in a conversation, cached per node for the hot paths (send, receipts,
// typing), so an event costs no store read once its sender is known. Only what a membership
// change can alter is kept (conversation type and visibility, the member's role), never
// counters such as lastSeq.
//
// Correctness rests on invalidation, not on the TTL: every membership change is confirmed by
// every gateway node before it is acknowledged (Realtime.membershipChanged), and each node
// drops what it cached about that conversation when told. A read that was in flight while any
// invalidation happened is not cached, so a stale answer cannot be put back after the drop.
// A node cut off from the notices (its adapter subscriber connection closed) drops everything
// and caches nothing until the link is back, when it drops everything again. The TTL only
// bounds how long a node can be wrong if a notice is lost some other way (the moment between
// the link's return and the re-subscription taking effect in Redis).
import type { ConversationType, Role } from '../../protocol/index.js';
import { AppError } from '../errors.js';
import type { Store } from '../store/store.js';

export interface Access {
  type: ConversationType;
  public: boolean;
  role: Role;
}

export interface AccessCacheOptions {
  /** Upper bound on how long an entry is trusted without a notice. */
  ttlMs?: number;
  /** Entries kept at most (conversation × member); the oldest go first. */
  maxEntries?: number;
}

const TTL_MS = 60_000;
const MAX_ENTRIES = 100_000; // ~100 bytes each

export function createAccessCache(store: Store, opts: AccessCacheOptions = {}) {
  const ttlMs = opts.ttlMs ?? TTL_MS;
  const maxEntries = opts.maxEntries ?? MAX_ENTRIES;
  /** conversationId → userId → access; a Map of Maps so one notice drops a conversation at once. */
  const entries = new Map<string, Map<string, { access: Access; at: number }>>();
  let size = 0;
  /** Bumped by every invalidation: reads that straddle one are not cached. */
  let epoch = 0;
  let linkUp = true;

  function remember(conversationId: string, userId: string, access: Access): void {
    if (size >= maxEntries) evictOldest();
    let members = entries.get(conversationId);
    if (!members) entries.set(conversationId, (members = new Map()));
    if (!members.has(userId)) size++;
    members.set(userId, { access, at: Date.now() });
  }

  function evictOldest(): void {
    // Conversations in insertion order: drop whole ones until a tenth of the room is free.
    for (const [id, members] of entries) {
      entries.delete(id);
      size -= members.size;
      if (size <= maxEntries * 0.9) return;
    }
  }

  /**
   * The member's access, or NOT_FOUND for private conversations the user is not in (existence
   * does not leak) and FORBIDDEN for public ones, exactly as the uncached check answers.
   */
  async function require(conversationId: string, userId: string): Promise<Access> {
    const hit = entries.get(conversationId)?.get(userId);
    if (hit && Date.now() - hit.at < ttlMs) return hit.access;
    const started = epoch;
    const [conversation, membership] = await Promise.all([store.getConversation(conversationId), store.getMembership(conversationId, userId)]);
    if (!conversation) throw new AppError('NOT_FOUND', 'conversation not found');
    if (!membership) {
      if (conversation.public) throw new AppError('FORBIDDEN', 'not a member of this conversation');
      throw new AppError('NOT_FOUND', 'conversation not found');
    }
    const access: Access = { type: conversation.type, public: conversation.public, role: membership.role };
    if (epoch === started && linkUp) remember(conversationId, userId, access);
    return access;
  }

  /** Drops everything known about the conversation (a membership change anywhere in the cluster). */
  function forget(conversationId: string): void {
    epoch++;
    const members = entries.get(conversationId);
    if (!members) return;
    entries.delete(conversationId);
    size -= members.size;
  }

  /** The link to other nodes' notices dropped or came back: nothing cached before can be trusted. */
  function linked(up: boolean): void {
    epoch++;
    linkUp = up;
    entries.clear();
    size = 0;
  }

  return { require, forget, linked, size: () => size };
}

export type AccessCache = ReturnType<typeof createAccessCache>;
