import { z } from 'zod';
import { ackSchema } from '../errors.js';
import {
  ClientMsgIdSchema,
  EmojiSchema,
  IdSchema,
  LIMITS,
  MessageTextSchema,
  SeqSchema,
  TitleSchema,
  UserIdSchema,
} from './common.js';
import {
  AttachmentSchema,
  ConversationSchema,
  MembershipSchema,
  MessageSchema,
  RoleSchema,
} from './model.js';
import { PresenceSchema, PresenceSubscribeOkShape, PresenceSubscribeSchema } from './presence.js';

// ---------------------------------------------------------------- client -> server payloads
// Every object is strict: an unknown key is INVALID_ARGUMENT, never silently dropped.

export const CreateDirectSchema = z.strictObject({
  type: z.literal('direct'),
  peerId: UserIdSchema,
});
export const CreateGroupSchema = z.strictObject({
  type: z.enum(['group', 'channel']),
  title: TitleSchema,
  memberIds: z.array(UserIdSchema).max(LIMITS.addMembersMaxPerCall).optional(),
  public: z.boolean().optional(),
});
/** `conversation:create` */
export const ConversationCreateSchema = z.discriminatedUnion('type', [CreateDirectSchema, CreateGroupSchema]);
export type ConversationCreate = z.input<typeof ConversationCreateSchema>;

const ConversationRef = { conversationId: IdSchema };

/** `conversation:join` — public groups and channels only. */
export const ConversationJoinSchema = z.strictObject(ConversationRef);
export type ConversationJoin = z.input<typeof ConversationJoinSchema>;

/** `conversation:leave` */
export const ConversationLeaveSchema = z.strictObject(ConversationRef);
export type ConversationLeave = z.input<typeof ConversationLeaveSchema>;

/** `conversation:addMembers` — owner/admin/moderator. */
export const AddMembersSchema = z.strictObject({
  ...ConversationRef,
  userIds: z.array(UserIdSchema).min(1).max(LIMITS.addMembersMaxPerCall),
});
export type AddMembers = z.input<typeof AddMembersSchema>;

/** `conversation:removeMember` — owner/admin, or moderator on plain members. */
export const RemoveMemberSchema = z.strictObject({ ...ConversationRef, userId: UserIdSchema });
export type RemoveMember = z.input<typeof RemoveMemberSchema>;

/** `conversation:setRole` — owner/admin. */
export const SetRoleSchema = z.strictObject({ ...ConversationRef, userId: UserIdSchema, role: RoleSchema });
export type SetRole = z.input<typeof SetRoleSchema>;

/** The body of a send, shared by the socket event and `POST /v1/conversations/:id/messages`. */
export const MessageBodyShape = {
  kind: z.enum(['text', 'file']),
  text: MessageTextSchema.optional(),
  attachment: AttachmentSchema.optional(),
};
function checkBody(v: { kind: 'text' | 'file'; text?: string; attachment?: unknown }, ctx: z.RefinementCtx) {
  if (v.kind === 'text' && v.text === undefined)
    ctx.addIssue({ code: 'custom', path: ['text'], message: 'is required for kind "text"' });
  if (v.kind === 'text' && v.attachment !== undefined)
    ctx.addIssue({ code: 'custom', path: ['attachment'], message: 'is not allowed for kind "text"' });
  if (v.kind === 'file' && v.attachment === undefined)
    ctx.addIssue({ code: 'custom', path: ['attachment'], message: 'is required for kind "file"' });
}
export const MessageBodySchema = z.strictObject(MessageBodyShape).superRefine(checkBody);
export type MessageBody = z.input<typeof MessageBodySchema>;

/**
 * `message:send`
 * @example
 * socket.emit('message:send', { conversationId, clientMsgId: crypto.randomUUID(), kind: 'text', text: 'hi' }, (res) => {
 *   if (res.ok) console.log(res.message.seq, res.duplicate);
 * });
 */
export const MessageSendSchema = z
  .strictObject({ ...ConversationRef, clientMsgId: ClientMsgIdSchema, ...MessageBodyShape })
  .superRefine(checkBody);
export type MessageSend = z.input<typeof MessageSendSchema>;

/** `message:delivered` and `message:read`: move a watermark forward (a lower seq is a no-op). */
export const WatermarkSchema = z.strictObject({ ...ConversationRef, seq: SeqSchema });
export type Watermark = z.input<typeof WatermarkSchema>;

/** `conversation:sync`: messages visible to the caller with `seq > afterSeq`, in seq order. */
export const SyncSchema = z.strictObject({
  ...ConversationRef,
  afterSeq: SeqSchema,
  limit: z.number().int().min(1).max(LIMITS.syncMax).optional(),
});
export type Sync = z.input<typeof SyncSchema>;

/** `typing`: relayed to the room, never stored. */
export const TypingSchema = z.strictObject({ ...ConversationRef, typing: z.boolean() });
export type Typing = z.input<typeof TypingSchema>;

/** The message a change refers to (PROTOCOL.md §9). */
const MessageRef = { ...ConversationRef, messageId: IdSchema };

/** `message:edit` — the sender only, `text` messages only, within the edit window. Same text again is a no-op. */
export const MessageEditSchema = z.strictObject({ ...MessageRef, text: MessageTextSchema });
export type MessageEdit = z.input<typeof MessageEditSchema>;

/** `message:delete` — the sender, or an owner/admin/moderator. Deleting again is a no-op. */
export const MessageDeleteSchema = z.strictObject(MessageRef);
export type MessageDelete = z.input<typeof MessageDeleteSchema>;

/**
 * `message:react` — any member who may read the message; a member holds each emoji at most once.
 * @example
 * socket.emit('message:react', { conversationId, messageId, emoji: '👍', on: true }, (res) => {});
 */
export const MessageReactSchema = z.strictObject({ ...MessageRef, emoji: EmojiSchema, on: z.boolean() });
export type MessageReact = z.input<typeof MessageReactSchema>;

// ---------------------------------------------------------------- ok data of the acks

export const CreateOkShape = { conversation: ConversationSchema };
export const JoinOkShape = { conversation: ConversationSchema, membership: MembershipSchema };
export const AddMembersOkShape = { added: z.array(UserIdSchema) };
export const SendOkShape = { message: MessageSchema, duplicate: z.boolean() };
export const EditOkShape = { message: MessageSchema };
export const SyncOkShape = { messages: z.array(MessageSchema), hasMore: z.boolean() };
export const EmptyOkShape = {};

export const CreateAckSchema = ackSchema(CreateOkShape);
export const JoinAckSchema = ackSchema(JoinOkShape);
export const AddMembersAckSchema = ackSchema(AddMembersOkShape);
export const SendAckSchema = ackSchema(SendOkShape);
export const SyncAckSchema = ackSchema(SyncOkShape);
export const EditAckSchema = ackSchema(EditOkShape);
export const EmptyAckSchema = ackSchema(EmptyOkShape);
export const PresenceSubscribeAckSchema = ackSchema(PresenceSubscribeOkShape);

// ---------------------------------------------------------------- server -> client payloads

export const MessageNewSchema = z.strictObject({ message: MessageSchema });
/** `message:updated`: the current state of a message after an edit, deletion or reaction. */
export const MessageUpdatedSchema = z.strictObject({ message: MessageSchema });
export const ReceiptSchema = z.strictObject({
  conversationId: IdSchema,
  userId: UserIdSchema,
  type: z.enum(['delivered', 'read']),
  seq: SeqSchema,
});
export const ConversationUpdatedSchema = z.strictObject({
  conversation: ConversationSchema,
  /** Extension: what changed, so clients can update their member lists without a refetch. */
  change: z
    .strictObject({
      action: z.enum(['created', 'joined', 'left', 'added', 'removed', 'role']),
      /** At most 20 ids (PROTOCOL.md §7); with more, `count` says how many and clients refetch members. */
      userIds: z.array(UserIdSchema),
      count: z.number().int().positive().optional(),
    })
    .optional(),
});
export const TypingEventSchema = z.strictObject({ conversationId: IdSchema, userId: UserIdSchema, typing: z.boolean() });
export const SessionExpiredSchema = z.strictObject({});
/** Extension: sent before a node shuts down; reconnect (to another node) after a jittered delay. */
export const ServerDrainingSchema = z.strictObject({ reconnectAfterMs: z.number().int().nonnegative() });

export type MessageNew = z.infer<typeof MessageNewSchema>;
export type MessageUpdated = z.infer<typeof MessageUpdatedSchema>;
export type Receipt = z.infer<typeof ReceiptSchema>;
export type ConversationUpdated = z.infer<typeof ConversationUpdatedSchema>;
export type TypingEvent = z.infer<typeof TypingEventSchema>;

/**
 * Each client->server event with the schema of its payload and the schema of its ack.
 * The server registers handlers from this table; the fuzz tests walk it.
 */
export const CLIENT_EVENTS = {
  'conversation:create': { payload: ConversationCreateSchema, ack: CreateAckSchema },
  'conversation:join': { payload: ConversationJoinSchema, ack: JoinAckSchema },
  'conversation:leave': { payload: ConversationLeaveSchema, ack: EmptyAckSchema },
  'conversation:addMembers': { payload: AddMembersSchema, ack: AddMembersAckSchema },
  'conversation:removeMember': { payload: RemoveMemberSchema, ack: EmptyAckSchema },
  'conversation:setRole': { payload: SetRoleSchema, ack: EmptyAckSchema },
  'message:send': { payload: MessageSendSchema, ack: SendAckSchema },
  'message:delivered': { payload: WatermarkSchema, ack: EmptyAckSchema },
  'message:read': { payload: WatermarkSchema, ack: EmptyAckSchema },
  'conversation:sync': { payload: SyncSchema, ack: SyncAckSchema },
  typing: { payload: TypingSchema, ack: EmptyAckSchema },
  'message:edit': { payload: MessageEditSchema, ack: EditAckSchema },
  'message:delete': { payload: MessageDeleteSchema, ack: EmptyAckSchema },
  'message:react': { payload: MessageReactSchema, ack: EmptyAckSchema },
  'presence:subscribe': { payload: PresenceSubscribeSchema, ack: PresenceSubscribeAckSchema },
} as const;
export type ClientEventName = keyof typeof CLIENT_EVENTS;
export const CLIENT_EVENT_NAMES = Object.keys(CLIENT_EVENTS) as ClientEventName[];

/**
 * Each server->client event with the schema of its payload. `ServerToClientEvents` is derived
 * from this table, and the AsyncAPI document (`protocol/asyncapi.ts`) is built from it.
 */
export const SERVER_EVENTS = {
  'message:new': MessageNewSchema,
  'message:updated': MessageUpdatedSchema,
  receipt: ReceiptSchema,
  'conversation:updated': ConversationUpdatedSchema,
  typing: TypingEventSchema,
  'session:expired': SessionExpiredSchema,
  'server:draining': ServerDrainingSchema,
  presence: PresenceSchema,
} as const;
export type ServerEventName = keyof typeof SERVER_EVENTS;
export const SERVER_EVENT_NAMES = Object.keys(SERVER_EVENTS) as ServerEventName[];
