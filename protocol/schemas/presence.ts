// Presence (§9): who is online, across every node. A socket watches a bounded set of users;
// each of them going online or offline reaches it as a `presence` event.
import { z } from 'zod';
import { LIMITS, TimestampSchema, UserIdSchema } from './common.js';

/**
 * `presence:subscribe`: replaces the socket's watched set (an empty list clears it).
 * @example
 * socket.emit('presence:subscribe', { userIds: ['bob', 'carol'] }, (res) => {
 *   if (res.ok) for (const p of res.presence) console.log(p.userId, p.online, p.lastSeenAt);
 * });
 */
export const PresenceSubscribeSchema = z.strictObject({
  userIds: z.array(UserIdSchema).max(LIMITS.presenceSubscribeMax),
});
export type PresenceSubscribe = z.input<typeof PresenceSubscribeSchema>;

/** One user's presence; `lastSeenAt` is when their last socket closed (absent while online or when hidden). */
export const PresenceSchema = z.strictObject({
  userId: UserIdSchema,
  online: z.boolean(),
  lastSeenAt: TimestampSchema.optional(),
});
export type Presence = z.infer<typeof PresenceSchema>;

export const PresenceSubscribeOkShape = { presence: z.array(PresenceSchema) };
