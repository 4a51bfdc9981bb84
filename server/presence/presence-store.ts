// Presence in Redis, readable from any node (gateways answer `presence:subscribe`, workers skip
// pushes to online users). Each gateway node keeps its own hash of userId → open sockets and
// beats into a sorted set of nodes; a user is online while a node that beat recently counts a
// socket of theirs. A node that dies stops beating, so its counts stop counting after
// DEAD_AFTER_BEATS beats with no cleanup needed for reads to be right. All keys share one hash
// tag, so pipelines and multi-key commands work on a Redis Cluster too.
import type { RedisClient as Redis } from '../redis.js';
import type { Presence } from '../../protocol/index.js';

/** Beats a node may miss before its sockets stop counting. */
export const DEAD_AFTER_BEATS = 3;

export interface PresenceKeys {
  nodes: string;
  node(nodeId: string): string;
  seen: string;
  hidden: string;
}

export function presenceKeys(prefix: string): PresenceKeys {
  const base = `${prefix}:{presence}`;
  return {
    nodes: `${base}:nodes`, // zset nodeId → last beat (epoch ms)
    node: (nodeId) => `${base}:node:${nodeId}`, // hash userId → sockets open on that node
    seen: `${base}:seen`, // hash userId → ISO time the last socket closed
    hidden: `${base}:hidden`, // set of users who hide their presence
  };
}

export interface PresenceStoreOptions {
  redis: Redis;
  prefix: string;
  heartbeatMs: number;
}

export type PresenceStore = ReturnType<typeof createPresenceStore>;

export function createPresenceStore(opts: PresenceStoreOptions) {
  const { redis } = opts;
  const keys = presenceKeys(opts.prefix);
  const deadAfterMs = opts.heartbeatMs * DEAD_AFTER_BEATS;

  /** Node ids that beat within the dead-after bound. */
  async function liveNodes(now = Date.now()): Promise<string[]> {
    return redis.zrangebyscore(keys.nodes, now - deadAfterMs, '+inf');
  }

  /** Which of `userIds` have a socket on a live node (hidden users included: this is the truth). */
  async function online(userIds: readonly string[], exceptNode?: string): Promise<Set<string>> {
    const result = new Set<string>();
    if (userIds.length === 0) return result;
    const nodes = (await liveNodes()).filter((n) => n !== exceptNode);
    if (nodes.length === 0) return result;
    const pipeline = redis.pipeline();
    for (const n of nodes) pipeline.hmget(keys.node(n), ...userIds);
    for (const [err, counts] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      (counts as (string | null)[]).forEach((c, i) => {
        if (c !== null && Number(c) > 0) result.add(userIds[i]!);
      });
    }
    return result;
  }

  /** Which of `userIds` hide their presence. */
  async function hiddenAmong(userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const flags = await redis.smismember(keys.hidden, ...userIds);
    return new Set(userIds.filter((_, i) => flags[i] === 1));
  }

  return {
    keys,
    deadAfterMs,
    liveNodes,
    online,
    hiddenAmong,
    async isHidden(userId: string): Promise<boolean> {
      return (await redis.sismember(keys.hidden, userId)) === 1;
    },
    async setHidden(userId: string, hidden: boolean): Promise<void> {
      await (hidden ? redis.sadd(keys.hidden, userId) : redis.srem(keys.hidden, userId));
    },
    /**
     * What `viewerId` may see of each user: a user who hides presence is always offline to
     * others, without `lastSeenAt`; the viewer always sees themself as they are.
     */
    async lookup(userIds: readonly string[], viewerId: string): Promise<Presence[]> {
      const unique = [...new Set(userIds)];
      if (unique.length === 0) return [];
      const [on, hidden, seen] = await Promise.all([online(unique), hiddenAmong(unique), redis.hmget(keys.seen, ...unique)]);
      return unique.map((userId, i): Presence => {
        if (hidden.has(userId) && userId !== viewerId) return { userId, online: false };
        if (on.has(userId)) return { userId, online: true };
        const lastSeenAt = seen[i];
        return lastSeenAt ? { userId, online: false, lastSeenAt } : { userId, online: false };
      });
    },
  };
}
