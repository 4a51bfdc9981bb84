// Lean documents → the plain protocol objects the port promises: string ids, ISO timestamps,
// no `_id`/`__v`, optional fields absent rather than null.
import { Types } from 'mongoose';
import type { Conversation, Member, Membership, Message } from '../../../protocol/index.js';
import { InvalidArgumentStoreError, type Period } from '../store.js';
import { GAP_KIND, type ConversationDoc, type MembershipDoc, type MessageDoc } from './models.js';

const OBJECT_ID_HEX = /^[0-9a-f]{24}$/;

/**
 * Conversation and message ids are ObjectId hex strings. Anything else (including a non-string
 * smuggled past the types) names nothing, so lookups answer "not found" without a query.
 */
export function parseId(id: unknown): Types.ObjectId | null {
  return typeof id === 'string' && OBJECT_ID_HEX.test(id) ? new Types.ObjectId(id) : null;
}

/**
 * User ids that go inside our own (trusted, so unsanitised) operators such as `$in` or `$ne`
 * must be strings; the types say so, this makes sure at runtime.
 */
export function assertUserIds(values: unknown[]): string[] {
  for (const v of values) {
    if (typeof v !== 'string') throw new InvalidArgumentStoreError('user id: must be a string');
  }
  return values as string[];
}

export function toConversation(d: ConversationDoc): Conversation {
  return {
    id: d._id.toHexString(),
    type: d.type,
    ...(d.title !== undefined && d.title !== null ? { title: d.title } : {}),
    createdBy: d.createdBy,
    createdAt: d.createdAt.toISOString(),
    lastSeq: d.lastSeq,
    public: d.public,
  };
}

export function toMembership(d: MembershipDoc): Membership {
  return {
    conversationId: d.conversationId.toHexString(),
    userId: d.userId,
    role: d.role,
    joinedAt: d.joinedAt.toISOString(),
    joinedSeq: d.joinedSeq,
    ...(d.leftAt ? { leftAt: d.leftAt.toISOString() } : {}),
    ...(typeof d.leftSeq === 'number' ? { leftSeq: d.leftSeq } : {}),
    deliveredSeq: d.deliveredSeq,
    readSeq: d.readSeq,
  };
}

export function toMember(d: MembershipDoc, readReceipts: boolean): Member & { readReceipts: boolean } {
  return {
    userId: d.userId,
    role: d.role,
    joinedAt: d.joinedAt.toISOString(),
    deliveredSeq: d.deliveredSeq,
    readSeq: d.readSeq,
    readReceipts,
  };
}

export function toPeriod(d: Pick<MembershipDoc, 'joinedSeq' | 'leftSeq' | 'open'>): Period {
  return { afterSeq: d.joinedSeq, untilSeq: d.open || typeof d.leftSeq !== 'number' ? null : d.leftSeq };
}

export function toMessage(d: MessageDoc): Message {
  if (d.kind === GAP_KIND) throw new Error(`gap placeholder at seq ${d.seq} reached a reader`);
  const m: Message = {
    id: d._id.toHexString(),
    conversationId: d.conversationId.toHexString(),
    seq: d.seq,
    senderId: d.senderId,
    clientMsgId: d.clientMsgId,
    kind: d.kind,
    createdAt: d.createdAt.toISOString(),
  };
  if (d.text !== undefined && d.text !== null) m.text = d.text;
  if (d.attachment) {
    const { url, name, size, mime } = d.attachment;
    m.attachment = { url, name, size, mime };
  }
  if (d.system) {
    const { action, actorId, userIds, count, role } = d.system;
    m.system = { action, actorId, ...(userIds ? { userIds: [...userIds] } : {}), ...(count !== undefined ? { count } : {}), ...(role ? { role } : {}) };
  }
  if (d.editedAt) m.editedAt = d.editedAt.toISOString();
  if (d.deletedAt) m.deletedAt = d.deletedAt.toISOString();
  if (typeof d.updatedSeq === 'number') m.updatedSeq = d.updatedSeq;
  const reactions = reactionCounts(d.reactors);
  if (reactions.length) m.reactions = reactions;
  return m;
}

/** Counts per emoji, ordered by emoji (code units, as PostgreSQL's "C" collation orders them). */
export function reactionCounts(reactors: readonly { emoji: string }[] | undefined): { emoji: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of reactors ?? []) counts.set(r.emoji, (counts.get(r.emoji) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([emoji, count]) => ({ emoji, count }));
}
