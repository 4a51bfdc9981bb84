// Who may do what in a conversation (PROTOCOL.md §3–§4). Pure functions, unit-tested.
import type { ConversationType, Role } from '../../protocol/index.js';

const RANK: Record<Role, number> = { owner: 3, admin: 2, moderator: 1, member: 0 };

export function canPost(type: ConversationType, role: Role): boolean {
  return type !== 'channel' || RANK[role] >= RANK.moderator;
}

/**
 * Channels are broadcast, not chat rooms (§7): whoever may not post there may not send
 * `typing`, has receipts stored but never broadcast, and may not list the members.
 */
export function speaksInRoom(type: ConversationType, role: Role): boolean {
  return canPost(type, role);
}

/** Deleting someone else's message (§9): owners, admins and moderators, in any conversation but a direct one. */
export function canModerate(type: ConversationType, role: Role): boolean {
  return type !== 'direct' && RANK[role] >= RANK.moderator;
}

export function canAddMembers(type: ConversationType, role: Role): boolean {
  return type !== 'direct' && RANK[role] >= RANK.moderator;
}

/** owner/admin remove anyone ranked below them; a moderator removes plain members only. */
export function canRemove(type: ConversationType, actor: Role, target: Role): boolean {
  if (type === 'direct') return false;
  if (actor === 'moderator') return target === 'member';
  return RANK[actor] >= RANK.admin && RANK[target] < RANK[actor];
}

/** owner sets any role on others; an admin sets moderator/member on those ranked below admin. */
export function canSetRole(type: ConversationType, actor: Role, target: Role, role: Role): boolean {
  if (type === 'direct') return false;
  if (actor === 'owner') return true;
  return actor === 'admin' && RANK[target] < RANK.admin && RANK[role] < RANK.admin;
}

/**
 * Who inherits ownership when the last owner leaves (§7): the longest-standing admin, else
 * moderator, else member (earliest `joinedAt`, ties by userId). Undefined when nobody is left.
 */
export function successor<M extends { userId: string; role: Role; joinedAt: string }>(members: readonly M[]): M | undefined {
  return [...members].sort((a, b) => RANK[b.role] - RANK[a.role] || a.joinedAt.localeCompare(b.joinedAt) || a.userId.localeCompare(b.userId))[0];
}

/**
 * Read-receipt privacy (§3): a member's read position (`readSeq`, `read` receipts) is shown to
 * others only when they share read receipts, and always to themselves.
 */
export function readPositionShown(sharesReadReceipts: boolean, viewerIsOwner: boolean): boolean {
  return sharesReadReceipts || viewerIsOwner;
}
