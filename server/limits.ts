// Rate limits on Redis, so a limit holds across every node, at close to no cost per event.
//
// Each family is a fixed window per key (user, or IP for handshakes) whose size is the burst
// and whose points/duration is the sustained rate, counted in one Redis key. A node does not
// ask Redis for every event: it LEASES a chunk of points (5 % of the limit) from the key with
// one script call and spends them locally; only when its lease runs out does it ask again. A
// leased point is counted in Redis before it is spent, so the cluster never admits more than the
// limit; points leased but unspent when the window ends are lost, so with N nodes a user may be
// refused up to N × 5 % early (within 10 % on two nodes). Once Redis says the window is
// exhausted, the node refuses locally until the window ends: a flood costs no round trip.
// The first event of a key's window is admitted at once and counted by the lease it sets off,
// unless the key was refused in its previous window: a user who sends a message now and then
// (one lease per window, i.e. per send) waits for no Redis round trip, and the cluster admits at
// most one event per node and window beyond the limit, when another node spent the window first.
// When Redis is unreachable an in-memory limiter per node takes over (the insurance limiter).
import type { RedisClient } from './redis.js';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { createCoalescer } from './coalesce.js';
import { AppError } from './errors.js';
import type { LimitFamily, Limiter } from './messaging/ports.js';

/** Per key (user, or IP for handshakes): burst = points, sustained = points / seconds. */
export const DEFAULT_LIMITS: Readonly<Record<LimitFamily, { points: number; seconds: number }>> = Object.freeze({
  send: { points: 100, seconds: 5 }, // 20 sends/s with bursts of 100 (PROTOCOL.md §3)
  change: { points: 60, seconds: 10 }, // 6 edits/deletions/reactions per s with bursts of 60 (§9)
  receipt: { points: 200, seconds: 5 }, // 40 receipts/s
  typing: { points: 20, seconds: 10 }, // 2 typing events/s
  membership: { points: 30, seconds: 10 }, // 3 membership changes/s
  read: { points: 100, seconds: 5 }, // 20 sync/history reads/s
  handshake: { points: 100, seconds: 10 }, // per IP: 10 connects/s
  rest: { points: 300, seconds: 10 }, // per user or IP: 30 requests/s
  added: { points: 20, seconds: 3600 }, // per user added by others: 20 conversations an hour (§7)
  presence: { points: 20, seconds: 10 }, // 2 presence:subscribe/s (each replaces the whole set)
});

/** Share of a limit one node leases at a time. */
const LEASE_SHARE = 0.05;
/** Local lease records kept at most; the oldest go first (each is a few dozen bytes). */
const MAX_LEASES = 200_000;

// KEYS[1] the window's counter. ARGV: points wanted, points needed now, limit, window ms.
// Grants min(wanted, what is left) if that covers what is needed now, else nothing; the
// window starts with the first grant. Returns { granted, ms until the window ends }.
const LEASE_SCRIPT = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[3]) - used)
if grant < tonumber(ARGV[2]) then
  if ttl < 0 then ttl = tonumber(ARGV[4]) end
  return {0, ttl}
end
redis.call('INCRBY', KEYS[1], grant)
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  ttl = tonumber(ARGV[4])
end
return {grant, ttl}`;

type LeasingRedis = RedisClient & { rateLimitLease(key: string, want: number, need: number, limit: number, windowMs: number): Promise<[number, number]> };

export interface LimiterOptions {
  redis: RedisClient;
  prefix: string;
  scale: number;
  onReject?: (family: LimitFamily) => void;
}

interface Lease {
  /** Points leased and not yet spent (0 and `exhausted` once Redis refused). */
  left: number;
  /** Epoch ms when the window ends: the lease is void after it. */
  until: number;
  exhausted: boolean;
  /** A lease request in flight; others for the same key wait for it. */
  pending?: Promise<void>;
}

export function createLimiter(opts: LimiterOptions): Limiter & { limits: typeof DEFAULT_LIMITS } {
  const scaled = Object.fromEntries(
    Object.entries(DEFAULT_LIMITS).map(([family, l]) => [family, { points: Math.max(1, Math.round(l.points * opts.scale)), seconds: l.seconds }]),
  ) as Record<LimitFamily, { points: number; seconds: number }>;
  const insurance = new Map<LimitFamily, RateLimiterMemory>(
    (Object.entries(scaled) as [LimitFamily, { points: number; seconds: number }][]).map(([family, l]) => [
      family,
      new RateLimiterMemory({ keyPrefix: `mem:${family}`, points: l.points, duration: l.seconds }),
    ]),
  );
  const redis = opts.redis as LeasingRedis;
  if (typeof redis.rateLimitLease !== 'function') redis.defineCommand('rateLimitLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
  const leases = new Map<string, Lease>();
  // Leases asked for while one batch is on its way leave together, as one pipeline: one write
  // and one read for a reconnect storm's hundreds of first handshakes instead of one each. A
  // Redis Cluster takes a pipeline only within one slot, so there each lease goes alone.
  type LeaseCall = [key: string, want: number, need: number, limit: number, windowMs: number];
  const leaseBatch = createCoalescer(
    async (calls: LeaseCall[]): Promise<([number, number] | Error)[]> => {
      const pipeline = redis.pipeline() as ReturnType<RedisClient['pipeline']> & { rateLimitLease(...a: LeaseCall): unknown };
      for (const c of calls) pipeline.rateLimitLease(...c);
      return ((await pipeline.exec()) ?? []).map(([err, reply]) => err ?? (reply as [number, number]));
    },
    { maxBatch: 500, maxInFlight: 1 },
  );
  async function leaseCall(...call: LeaseCall): Promise<[number, number]> {
    if (redis.isCluster) return redis.rateLimitLease(...call);
    const reply = await leaseBatch.submit(call);
    if (reply instanceof Error) throw reply;
    return reply;
  }

  function refuse(family: LimitFamily, retryAfterMs: number): never {
    opts.onReject?.(family);
    throw new AppError('RATE_LIMITED', `too many ${family} requests`, { retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) });
  }

  /** `spent`: points of an event admitted before the lease came back, which the grant covers. */
  async function lease(family: LimitFamily, key: string, id: string, state: Lease, points: number, spent = 0): Promise<void> {
    const limit = scaled[family];
    const want = Math.max(points, Math.floor(limit.points * LEASE_SHARE), 1);
    const [granted, ttl] = await leaseCall(`${opts.prefix}:rl:${family}:${key}`, want, points, limit.points, limit.seconds * 1000);
    const now = Date.now();
    if (now >= state.until) {
      state.left = 0;
      state.exhausted = false;
    }
    state.until = now + Math.max(1, Number(ttl));
    if (Number(granted) > 0) state.left += Math.max(0, Number(granted) - spent);
    else state.exhausted = true;
    if (leases.size > MAX_LEASES) for (const old of leases.keys()) if (old !== id && leases.delete(old) && leases.size <= MAX_LEASES * 0.9) break;
  }

  async function consumeLeased(family: LimitFamily, key: string, points: number): Promise<void> {
    const id = `${family}\u0000${key}`;
    let state = leases.get(id);
    if (!state) leases.set(id, (state = { left: 0, until: 0, exhausted: false }));
    for (;;) {
      if (state.pending) {
        await state.pending;
        continue;
      }
      if (Date.now() < state.until) {
        if (state.left >= points) {
          state.left -= points;
          return;
        }
        if (state.exhausted) refuse(family, state.until - Date.now());
      } else if (!state.exhausted && points <= Math.max(1, Math.floor(scaled[family].points * LEASE_SHARE))) {
        // A new window of a key that was not refused in its last one, for no more than a lease:
        // admitted now, counted by the lease taken behind it (a failed lease leaves the next
        // event to ask again).
        state.pending = lease(family, key, id, state, points, points)
          .catch(() => undefined)
          .finally(() => {
            state.pending = undefined;
          });
        return;
      }
      state.pending = lease(family, key, id, state, points).finally(() => {
        state.pending = undefined;
      });
      await state.pending;
      if (state.exhausted && state.left < points) refuse(family, state.until - Date.now());
    }
  }

  return {
    limits: scaled,
    async consume(family, key, points = 1) {
      if (redis.status === 'ready') {
        try {
          return await consumeLeased(family, key, points);
        } catch (err) {
          if (err instanceof AppError) throw err;
          // Redis failed mid-call: this event falls through to the insurance limiter.
        }
      }
      try {
        await insurance.get(family)!.consume(key, points);
      } catch (err) {
        if (err instanceof RateLimiterRes) refuse(family, err.msBeforeNext);
        throw err;
      }
    },
  };
}
