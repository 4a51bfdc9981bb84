// This gateway node's part of presence: it counts its own sockets per user (the truth about
// them lives here, Redis holds a copy), writes a user's count only when it crosses 0↔1, beats
// every heartbeat so other nodes keep trusting its counts, and sweeps nodes that stopped
// beating: the first node to claim a dead one reports its users offline. Nothing here runs per
// message; the cost is one write per first/last socket of a user and one beat per heartbeat.
import type { RedisClient as Redis } from '../redis.js';
import type { Presence } from '../../protocol/index.js';
import type { Logger } from '../logger.js';
import { createCoalescer } from '../coalesce.js';
import { createPresenceStore, type PresenceStore } from './presence-store.js';

/** Users of a dead node looked up and reported offline per turn of the event loop. */
const SWEEP_SLICE = 500;

// KEYS: this node's hash, the nodes zset, the hidden set. ARGV: hash TTL ms, oldest live beat,
// node key prefix, this node's id, then the users that got their first socket here. Counts them
// here, then returns those to announce online: not counted on another live node, not hidden.
// All keys share the {presence} hash tag, so this runs on a Redis Cluster too.
const CONNECTED_SCRIPT = `
for i = 5, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local others = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[2], '+inf')) do
  if n ~= ARGV[4] then others[#others + 1] = ARGV[3] .. n end
end
local announce = {}
for i = 5, #ARGV do
  local u = ARGV[i]
  local elsewhere = false
  for _, k in ipairs(others) do
    local c = redis.call('HGET', k, u)
    if c and tonumber(c) > 0 then elsewhere = true break end
  end
  if not elsewhere and redis.call('SISMEMBER', KEYS[3], u) == 0 then announce[#announce + 1] = u end
end
return announce`;

type ConnectingRedis = Redis & { presenceConnected(...args: (string | number)[]): Promise<string[]> };

export interface PresenceNodeOptions {
  redis: Redis;
  prefix: string;
  nodeId: string;
  heartbeatMs: number;
  logger: Logger;
  /** A user went online or offline (cluster-wide); the gateway tells their watchers on every node. */
  onChange: (presence: Presence) => void;
}

export type PresenceNode = ReturnType<typeof createPresenceNode>;

export function createPresenceNode(opts: PresenceNodeOptions) {
  const { redis, nodeId } = opts;
  const log = opts.logger.child({ module: 'presence' });
  const store: PresenceStore = createPresenceStore(opts);
  const { keys } = store;
  const myKey = keys.node(nodeId);
  // The hash outlives the dead-after bound by as long again, so a sweeper still finds whom to
  // report when its own beat runs late (a busy node: with one beat of margin, a sweep delayed
  // past it found an expired hash and the users' offline events were never sent). Readers only
  // count the hashes of live nodes, so a dead node's hash lingering changes no answer.
  const hashTtlMs = 2 * store.deadAfterMs + opts.heartbeatMs;
  const local = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Writes started by socket events, awaited on close so none runs after Redis quits.
  const inFlight = new Set<Promise<void>>();
  const background = (what: string, work: () => Promise<void>) => {
    if (closed) return;
    const p = work().catch(fail(what));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  // First sockets of users, written in batches: while one batch is on its way the next gathers,
  // so a reconnect storm costs one script call per batch instead of four round trips per user.
  const connecting = redis as ConnectingRedis;
  if (typeof connecting.presenceConnected !== 'function') redis.defineCommand('presenceConnected', { numberOfKeys: 3, lua: CONNECTED_SCRIPT });
  const nodeKeyPrefix = keys.node('');
  const connectWrites = new Map<string, Promise<void>>();
  const connectedBatch = createCoalescer(
    async (userIds: string[]): Promise<void[]> => {
      const online = await connecting.presenceConnected(myKey, keys.nodes, keys.hidden, hashTtlMs, Date.now() - store.deadAfterMs, nodeKeyPrefix, nodeId, ...userIds);
      for (const userId of online) opts.onChange({ userId, online: true });
      return userIds.map(() => undefined);
    },
    { maxBatch: 500, maxInFlight: 1 },
  );

  const fail = (what: string) => (err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, `presence ${what} failed`);

  /** Tells watchers, unless the user hides presence (then they stay offline to others). */
  async function announce(presence: Presence): Promise<void> {
    if (await store.isHidden(presence.userId)) return;
    opts.onChange(presence);
  }

  async function wentOffline(userIds: string[], at: Date, exceptNode?: string): Promise<void> {
    if (userIds.length === 0) return;
    const still = await store.online(userIds, exceptNode);
    const gone = userIds.filter((u) => !still.has(u) && !local.has(u));
    if (gone.length === 0) return;
    const lastSeenAt = at.toISOString();
    await redis.hset(keys.seen, Object.fromEntries(gone.map((u) => [u, lastSeenAt])));
    for (const userId of gone) await announce({ userId, online: false, lastSeenAt });
  }

  async function beat(): Promise<void> {
    const now = Date.now();
    const [[, extended]] = ((await redis.multi().pexpire(myKey, hashTtlMs).zadd(keys.nodes, now, nodeId).exec()) ?? []) as [[unknown, number]];
    // The hash vanished (Redis restarted, or a pause long enough for a sweeper to take this node
    // for dead): write it again and announce these users, whom the sweeper may have reported offline.
    if (extended === 0 && local.size > 0) {
      await redis.multi().hset(myKey, Object.fromEntries(local)).pexpire(myKey, hashTtlMs).exec();
      for (const userId of local.keys()) await announce({ userId, online: true });
    }
    await sweep(now);
  }

  async function sweep(now: number): Promise<void> {
    const dead = await redis.zrangebyscore(keys.nodes, '-inf', `(${now - store.deadAfterMs}`, 'WITHSCORES');
    for (let i = 0; i < dead.length; i += 2) {
      const deadNode = dead[i]!;
      const lastBeat = Number(dead[i + 1]);
      // Whoever removes it reports it; the other nodes' ZREM returns 0.
      if ((await redis.zrem(keys.nodes, deadNode)) !== 1) continue;
      const users = await redis.hkeys(keys.node(deadNode));
      await redis.del(keys.node(deadNode));
      log.warn({ deadNode, users: users.length }, 'node stopped beating: its users are offline');
      // A slice at a time, yielding between: one HMGET of a whole node's users (10,000 fields)
      // and its reply held the loop for 250 ms after a storm (BENCHMARKS.md, connections at scale).
      for (let i = 0; i < users.length; i += SWEEP_SLICE) {
        if (i > 0) await new Promise(setImmediate);
        await wentOffline(users.slice(i, i + SWEEP_SLICE), new Date(lastBeat));
      }
    }
  }

  return {
    store,
    /** Starts beating (the first beat registers this node before any socket is counted). */
    async start(): Promise<void> {
      await beat();
      timer = setInterval(() => background('heartbeat', beat), opts.heartbeatMs);
      timer.unref();
    },
    connected(userId: string): void {
      const n = (local.get(userId) ?? 0) + 1;
      local.set(userId, n);
      if (n > 1) return;
      // Write, then look (as a disconnect does): of a connect here and a last disconnect on
      // another node at the same moment, at least the later one sees the other's write, so
      // the last word watchers get is right (at worst an extra "online"). One script does both.
      // A disconnect's HDEL must not overtake this write waiting for its batch: it waits for it.
      const written = connectedBatch.submit(userId);
      connectWrites.set(userId, written);
      void written.catch(() => {}).finally(() => connectWrites.get(userId) === written && connectWrites.delete(userId));
      background('connect', () => written);
    },
    disconnected(userId: string): void {
      const n = (local.get(userId) ?? 1) - 1;
      if (n > 0) {
        local.set(userId, n);
        return;
      }
      local.delete(userId);
      background('disconnect', async () => {
        await connectWrites.get(userId)?.catch(() => {});
        // A socket of the user may have connected again meanwhile: the write reflects now.
        if (local.has(userId)) return;
        await redis.hdel(myKey, userId);
        await wentOffline([userId], new Date(), nodeId);
      });
    },
    /** The privacy setting: hiding looks like going offline to watchers, showing like coming online. */
    async setHidden(userId: string, hidden: boolean): Promise<void> {
      const wasHidden = await store.isHidden(userId);
      if (wasHidden === hidden) return;
      const online = (await store.online([userId])).has(userId) || local.has(userId);
      if (hidden && online) opts.onChange({ userId, online: false });
      await store.setHidden(userId, hidden);
      if (!hidden && online) opts.onChange({ userId, online: true });
    },
    /** Stops beating and takes this node's sockets out of the count at once (clean shutdown). */
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.all(inFlight);
      const users = [...local.keys()];
      local.clear();
      await redis.multi().del(myKey).zrem(keys.nodes, nodeId).exec();
      await wentOffline(users, new Date(), nodeId);
    },
  };
}
