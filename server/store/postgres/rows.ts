// Row shapes of the PostgreSQL schema and their mapping to the protocol types. Optional fields
// are left out rather than set to undefined, so results compare equal to the wire objects.
import type {
  Attachment,
  Conversation,
  ConversationType,
  Member,
  Membership,
  Message,
  Role,
  SystemEvent,
} from '../../../protocol/index.js';

export interface ConversationRow {
  id: string;
  type: ConversationType;
  title: string | null;
  created_by: string;
  created_at: Date;
  last_seq: number;
  public: boolean;
}

export interface MembershipRow {
  conversation_id: string;
  user_id: string;
  role: Role;
  joined_at: Date;
  joined_seq: number;
  left_at: Date | null;
  left_seq: number | null;
  delivered_seq: number;
  read_seq: number;
}

export interface MessageRow {
  conversation_id: string;
  seq: number;
  sender_id: string;
  client_msg_id: string;
  kind: Message['kind'];
  text: string | null;
  attachment: Attachment | null;
  system: SystemEvent | null;
  created_at: Date;
  updated_seq: number | null;
  edited_at: Date | null;
  deleted_at: Date | null;
  reactions: { emoji: string; count: number }[] | null;
}

/** A row of LIST_CONVERSATIONS: the conversation, the caller's membership, and `lm_*` last message. */
export type ListRow = ConversationRow & { role: Role; read_seq: number; activity_us: number; unread: number } & {
  [K in keyof MessageRow as `lm_${K}`]: MessageRow[K] | null;
};

export const CONVERSATION_COLUMNS = 'id, type, title, created_by, created_at, last_seq, public';
export const MEMBERSHIP_COLUMNS =
  'conversation_id, user_id, role, joined_at, joined_seq, left_at, left_seq, delivered_seq, read_seq';
export const MESSAGE_COLUMNS =
  'conversation_id, seq, sender_id, client_msg_id, kind, text, attachment, system, created_at, updated_seq, edited_at, deleted_at, reactions';

/** `<conversationId>-<seq>`: unique, stable, and found again through the primary key. */
export function messageId(conversationId: string, seq: number): string {
  return `${conversationId}-${seq}`;
}

/** Splits an id made by `messageId`; undefined for anything else (conversation ids may hold '-'). */
export function parseMessageId(id: string): { conversationId: string; seq: number } | undefined {
  const m = /^(.+)-(\d{1,16})$/.exec(id);
  if (!m) return undefined;
  const seq = Number(m[2]);
  return Number.isSafeInteger(seq) ? { conversationId: m[1]!, seq } : undefined;
}

export function toConversation(r: ConversationRow): Conversation {
  return {
    id: r.id,
    type: r.type,
    ...(r.title !== null && { title: r.title }),
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    lastSeq: r.last_seq,
    public: r.public,
  };
}

export function toMembership(r: MembershipRow): Membership {
  return {
    conversationId: r.conversation_id,
    userId: r.user_id,
    role: r.role,
    joinedAt: r.joined_at.toISOString(),
    joinedSeq: r.joined_seq,
    ...(r.left_at !== null && { leftAt: r.left_at.toISOString() }),
    ...(r.left_seq !== null && { leftSeq: r.left_seq }),
    deliveredSeq: r.delivered_seq,
    readSeq: r.read_seq,
  };
}

export function toMember(r: MembershipRow & { read_receipts: boolean }): Member & { readReceipts: boolean } {
  return {
    userId: r.user_id,
    role: r.role,
    joinedAt: r.joined_at.toISOString(),
    deliveredSeq: r.delivered_seq,
    // Always present: whether others may see it is the caller's decision (it knows who asks).
    readSeq: r.read_seq,
    readReceipts: r.read_receipts,
  };
}

export function toMessage(r: MessageRow): Message {
  return {
    id: messageId(r.conversation_id, r.seq),
    conversationId: r.conversation_id,
    seq: r.seq,
    senderId: r.sender_id,
    clientMsgId: r.client_msg_id,
    kind: r.kind,
    ...(r.text !== null && { text: r.text }),
    ...(r.attachment !== null && { attachment: r.attachment }),
    ...(r.system !== null && { system: r.system }),
    createdAt: r.created_at.toISOString(),
    ...(r.edited_at !== null && { editedAt: r.edited_at.toISOString() }),
    ...(r.deleted_at !== null && { deletedAt: r.deleted_at.toISOString() }),
    ...(r.updated_seq !== null && { updatedSeq: r.updated_seq }),
    ...(r.reactions !== null && r.reactions.length > 0 && { reactions: r.reactions }),
  };
}

export function lastMessageOf(r: ListRow): Message | undefined {
  if (r.lm_seq === null) return undefined;
  return toMessage({
    conversation_id: r.lm_conversation_id!,
    seq: r.lm_seq,
    sender_id: r.lm_sender_id!,
    client_msg_id: r.lm_client_msg_id!,
    kind: r.lm_kind!,
    text: r.lm_text,
    attachment: r.lm_attachment,
    system: r.lm_system,
    created_at: r.lm_created_at!,
    updated_seq: r.lm_updated_seq,
    edited_at: r.lm_edited_at,
    deleted_at: r.lm_deleted_at,
    reactions: r.lm_reactions,
  });
}
