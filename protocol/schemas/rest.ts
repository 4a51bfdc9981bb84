import { z } from 'zod';
import { ClientMsgIdSchema, EmojiSchema, IdSchema, LIMITS, MessageTextSchema, SeqSchema } from './common.js';
import { ConversationSchema, MemberSchema, MembershipSchema, MessageSchema, RoleSchema } from './model.js';

/** A non-negative integer that arrives as a query-string value. */
const QueryInt = (max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'must be a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().nonnegative().max(max));
const QueryLimit = (max: number) =>
  z
    .string()
    .regex(/^\d{1,4}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max));

/** `GET /v1/conversations?limit&cursor` (unknown parameters are refused). */
export const ListConversationsQuerySchema = z.strictObject({
  limit: QueryLimit(LIMITS.pageMax).optional(),
  cursor: z.string().max(200).optional(),
});
export type ListConversationsQuery = z.output<typeof ListConversationsQuerySchema>;

export const ConversationListItemSchema = ConversationSchema.extend({
  role: RoleSchema,
  unread: z.number().int().nonnegative(),
  lastMessage: MessageSchema.optional(),
});
export const ListConversationsResponseSchema = z.strictObject({
  conversations: z.array(ConversationListItemSchema),
  nextCursor: z.string().optional(),
});
export type ConversationListItem = z.infer<typeof ConversationListItemSchema>;
export type ListConversationsResponse = z.infer<typeof ListConversationsResponseSchema>;

/** `GET /v1/conversations/:id` */
export const ConversationParamsSchema = z.strictObject({ id: IdSchema });
export const GetConversationResponseSchema = z.strictObject({
  conversation: ConversationSchema,
  membership: MembershipSchema,
});

/** `GET /v1/conversations/:id/members?limit&cursor` */
export const ListMembersQuerySchema = z.strictObject({
  limit: QueryLimit(LIMITS.pageMax).optional(),
  cursor: z.string().max(200).optional(),
});
export const ListMembersResponseSchema = z.strictObject({
  members: z.array(MemberSchema),
  nextCursor: z.string().optional(),
});

/** `GET /v1/conversations/:id/messages?before=&after=&limit=` (at most one of before/after). */
export const HistoryQuerySchema = z
  .strictObject({
    before: QueryInt().optional(),
    after: QueryInt().optional(),
    limit: QueryLimit(LIMITS.pageMax).optional(),
  })
  .refine((q) => q.before === undefined || q.after === undefined, {
    message: 'use either before or after, not both',
    path: ['after'],
  });
export type HistoryQuery = z.output<typeof HistoryQuerySchema>;
export const HistoryResponseSchema = z.strictObject({
  messages: z.array(MessageSchema),
  nextBefore: SeqSchema.optional(),
  nextAfter: SeqSchema.optional(),
});
export type HistoryResponse = z.infer<typeof HistoryResponseSchema>;

/** `POST /v1/conversations/:id/messages` response (201 new, 200 repeat). */
export const PostMessageResponseSchema = z.strictObject({ message: MessageSchema, duplicate: z.boolean() });

/** `GET /v1/me/settings`: the caller's privacy settings. */
export const SettingsSchema = z.strictObject({ readReceipts: z.boolean(), presence: z.boolean() });
export type Settings = z.infer<typeof SettingsSchema>;
/** `PUT /v1/me/settings`: the settings to change (at least one); the others stay. */
export const SettingsUpdateSchema = z
  .strictObject({ readReceipts: z.boolean().optional(), presence: z.boolean().optional() })
  .refine((s) => s.readReceipts !== undefined || s.presence !== undefined, { message: 'name at least one setting', path: ['readReceipts'] });
export type SettingsUpdate = z.infer<typeof SettingsUpdateSchema>;

/** `PUT` and `GET /v1/conversations/:id/settings`: the caller's settings for one conversation. */
export const ConversationSettingsSchema = z.strictObject({ muted: z.boolean() });
export type ConversationSettings = z.infer<typeof ConversationSettingsSchema>;

/**
 * Which dead-letter queue an admin route reads: `delivery` (the default, `delivery-dlq`) or
 * `push` (`push-dlq`, offline push posts and their fan-out steps).
 */
export const DlqQueueSchema = z.enum(['delivery', 'push']);
export type DlqQueue = z.infer<typeof DlqQueueSchema>;

/** `GET /v1/admin/dlq` */
export const DlqQuerySchema = z.strictObject({
  limit: QueryLimit(LIMITS.pageMax).optional(),
  offset: QueryInt(1_000_000).optional(),
  queue: DlqQueueSchema.optional(),
});
/** `POST /v1/admin/dlq/:jobId/retry` and `DELETE /v1/admin/dlq/:jobId` */
export const DlqTargetQuerySchema = z.strictObject({ queue: DlqQueueSchema.optional() });
export const DlqJobSchema = z.strictObject({
  jobId: z.string(),
  /** Push dead letters only: the step that failed (`post` the webhook call; `fanout`, `flush`). */
  step: z.enum(['fanout', 'flush', 'post']).optional(),
  messageId: z.string().optional(),
  conversationId: z.string().optional(),
  failedReason: z.string().optional(),
  attemptsMade: z.number().int().nonnegative(),
  timestamp: z.number().int(),
});
export const DlqResponseSchema = z.strictObject({ jobs: z.array(DlqJobSchema), total: z.number().int() });
export const DlqParamsSchema = z.strictObject({ jobId: z.string().min(1).max(200) });

/** `POST /v1/conversations/:id/messages` headers: `Idempotency-Key` is the send's `clientMsgId`. */
export const PostMessageHeadersSchema = z.object({ 'idempotency-key': ClientMsgIdSchema });

/** `POST /v1/admin/dlq/:jobId/retry`: the dead letter was re-enqueued as `replayedAs`. */
export const DlqRetryResponseSchema = z.strictObject({ jobId: z.string(), replayedAs: z.string() });

/** `PATCH` and `DELETE /v1/conversations/:id/messages/:messageId` */
export const MessageParamsSchema = z.strictObject({ id: IdSchema, messageId: IdSchema });
/** `PATCH /v1/conversations/:id/messages/:messageId` body: the new text (same rules as a send). */
export const EditMessageBodySchema = z.strictObject({ text: MessageTextSchema });
export const EditMessageResponseSchema = z.strictObject({ message: MessageSchema });
/** `PUT` and `DELETE /v1/conversations/:id/messages/:messageId/reactions/:emoji` (emoji URL-encoded). */
export const ReactionParamsSchema = z.strictObject({ id: IdSchema, messageId: IdSchema, emoji: EmojiSchema });
