import { z } from 'zod';
import {
  ClientMsgIdSchema,
  DEFAULT_ATTACHMENT_MIME,
  IdSchema,
  LIMITS,
  SeqSchema,
  TimestampSchema,
  UserIdSchema,
} from './common.js';

export const ConversationTypeSchema = z.enum(['direct', 'group', 'channel']);
export type ConversationType = z.infer<typeof ConversationTypeSchema>;

export const RoleSchema = z.enum(['owner', 'admin', 'moderator', 'member']);
export type Role = z.infer<typeof RoleSchema>;

export const MessageKindSchema = z.enum(['text', 'file', 'system']);
export type MessageKind = z.infer<typeof MessageKindSchema>;

/** A conversation as clients see it (PROTOCOL.md §3). */
export const ConversationSchema = z.strictObject({
  id: IdSchema,
  type: ConversationTypeSchema,
  title: z.string().optional(),
  createdBy: UserIdSchema,
  createdAt: TimestampSchema,
  /** Highest seq assigned in this conversation so far (0 when empty). */
  lastSeq: SeqSchema,
  /** Public groups and channels can be joined by anyone with `conversation:join`. */
  public: z.boolean(),
});
export type Conversation = z.infer<typeof ConversationSchema>;

/** One membership period of a user in a conversation, with the member's receipt watermarks. */
export const MembershipSchema = z.strictObject({
  conversationId: IdSchema,
  userId: UserIdSchema,
  role: RoleSchema,
  joinedAt: TimestampSchema,
  /** The member sees messages with `seq > joinedSeq` ... */
  joinedSeq: SeqSchema,
  leftAt: TimestampSchema.optional(),
  /** ... and `seq <= leftSeq` once the period is closed. */
  leftSeq: SeqSchema.optional(),
  deliveredSeq: SeqSchema,
  readSeq: SeqSchema,
});
export type Membership = z.infer<typeof MembershipSchema>;

// C0 and C1 controls, DEL, and the bidirectional marks, embeddings, overrides and isolates.
// eslint-disable-next-line no-control-regex
const UNSAFE_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * An attachment reference; the file itself lives in external storage.
 * The server may further restrict hosts (`ATTACHMENT_HOSTS`).
 */
export const AttachmentSchema = z.strictObject({
  url: z
    .string()
    .max(2048)
    .refine((u) => {
      try {
        return new URL(u).protocol === 'https:';
      } catch {
        return false;
      }
    }, 'must be an https: URL'),
  // A file name is shown and saved by clients: control characters (tab and newline included)
  // and bidirectional controls ("invoice\u202Efdp.exe" shows as "invoiceexe.pdf") are refused.
  name: z
    .string()
    .min(1)
    .max(LIMITS.attachmentNameMaxChars)
    .refine((s) => !UNSAFE_NAME_CHARS.test(s), 'must not contain control or bidirectional control characters'),
  size: z.number().int().nonnegative().max(LIMITS.attachmentMaxBytes),
  mime: z.string().refine((m) => DEFAULT_ATTACHMENT_MIME.includes(m), 'is not an allowed MIME type'),
});
export type Attachment = z.infer<typeof AttachmentSchema>;

/** What a `system` message records, so clients can render it in their own language. */
export const SystemEventSchema = z.strictObject({
  action: z.enum(['created', 'joined', 'left', 'added', 'removed', 'role']),
  actorId: UserIdSchema,
  /** At most 20 of the users concerned (PROTOCOL.md §7); `count` says how many there were. */
  userIds: z.array(UserIdSchema).optional(),
  /** Extension: present when more users were concerned than `userIds` lists. */
  count: z.number().int().positive().optional(),
  role: RoleSchema.optional(),
});
export type SystemEvent = z.infer<typeof SystemEventSchema>;

/** A stored message (PROTOCOL.md §3). `seq` is strictly increasing but may have gaps. */
export const MessageSchema = z.strictObject({
  id: IdSchema,
  conversationId: IdSchema,
  seq: SeqSchema,
  senderId: UserIdSchema,
  clientMsgId: ClientMsgIdSchema,
  kind: MessageKindSchema,
  text: z.string().optional(),
  attachment: AttachmentSchema.optional(),
  /** Only on `system` messages. */
  system: SystemEventSchema.optional(),
  createdAt: TimestampSchema,
  /** Set by `message:edit` (PROTOCOL.md §9). */
  editedAt: TimestampSchema.optional(),
  /** Set by `message:delete`; a deleted message has no `text`, `attachment` or `reactions`. */
  deletedAt: TimestampSchema.optional(),
  /** The seq of the latest change (edit, deletion, reaction); `conversation:sync` returns changes after `afterSeq`. */
  updatedSeq: SeqSchema.optional(),
  /** Reaction counts, one entry per emoji held by at least one member. */
  reactions: z.array(z.strictObject({ emoji: z.string(), count: z.number().int().positive() })).optional(),
});
export type Message = z.infer<typeof MessageSchema>;

/** A member as listed by REST: role and watermarks (`readSeq` hidden per privacy setting). */
export const MemberSchema = z.strictObject({
  userId: UserIdSchema,
  role: RoleSchema,
  joinedAt: TimestampSchema,
  deliveredSeq: SeqSchema,
  readSeq: SeqSchema.optional(),
});
export type Member = z.infer<typeof MemberSchema>;
