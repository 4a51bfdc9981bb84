// Muted conversations per member (`PUT /v1/conversations/:id/settings { muted }`), kept in
// Redis next to the push queue that reads them: one set of muted members per conversation, so
// a fan-out asks about all its recipients in one command.
import type { RedisClient as Redis } from '../redis.js';

export type Mutes = ReturnType<typeof createMutes>;

export function createMutes(redis: Redis, prefix: string) {
  const key = (conversationId: string) => `${prefix}:push:muted:{${conversationId}}`;
  return {
    async isMuted(conversationId: string, userId: string): Promise<boolean> {
      return (await redis.sismember(key(conversationId), userId)) === 1;
    },
    async setMuted(conversationId: string, userId: string, muted: boolean): Promise<void> {
      await (muted ? redis.sadd(key(conversationId), userId) : redis.srem(key(conversationId), userId));
    },
    async mutedAmong(conversationId: string, userIds: readonly string[]): Promise<Set<string>> {
      if (userIds.length === 0) return new Set();
      const flags = await redis.smismember(key(conversationId), ...userIds);
      return new Set(userIds.filter((_, i) => flags[i] === 1));
    },
  };
}
