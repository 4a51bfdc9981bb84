// Rate limits on Redis (rate-limiter-flexible), so a limit holds across every node. Each family
// is a fixed window whose size is the burst and whose points/duration is the sustained rate.
// When Redis is unreachable an in-memory limiter per node takes over (the insurance limiter).
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from './errors.js';
import type { LimitFamily, Limiter } from './messaging/ports.js';

/** Per key (user, or IP for handshakes): burst = points, sustained = points / seconds. */
export const DEFAULT_LIMITS: Readonly<Record<LimitFamily, { points: number; seconds: number }>> = Object.freeze({
  send: { points: 100, seconds: 5 }, // 20 sends/s with bursts of 100 (PROTOCOL.md §3)
  receipt: { points: 200, seconds: 5 }, // 40 receipts/s
  typing: { points: 20, seconds: 10 }, // 2 typing events/s
  membership: { points: 30, seconds: 10 }, // 3 membership changes/s
  read: { points: 100, seconds: 5 }, // 20 sync/history reads/s
  handshake: { points: 100, seconds: 10 }, // per IP: 10 connects/s
  rest: { points: 300, seconds: 10 }, // per user or IP: 30 requests/s
});

export interface LimiterOptions {
  redis: Redis;
  prefix: string;
  scale: number;
  onReject?: (family: LimitFamily) => void;
}

export function createLimiter(opts: LimiterOptions): Limiter & { limits: typeof DEFAULT_LIMITS } {
  const limiters = new Map<LimitFamily, RateLimiterRedis>();
  const scaled = Object.fromEntries(
    Object.entries(DEFAULT_LIMITS).map(([family, l]) => [family, { points: Math.max(1, Math.round(l.points * opts.scale)), seconds: l.seconds }]),
  ) as Record<LimitFamily, { points: number; seconds: number }>;

  for (const [family, l] of Object.entries(scaled) as [LimitFamily, { points: number; seconds: number }][]) {
    limiters.set(
      family,
      new RateLimiterRedis({
        storeClient: opts.redis,
        keyPrefix: `${opts.prefix}:rl:${family}`,
        points: l.points,
        duration: l.seconds,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `mem:${family}`, points: l.points, duration: l.seconds }),
      }),
    );
  }

  return {
    limits: scaled,
    async consume(family, key, points = 1) {
      try {
        await limiters.get(family)!.consume(key, points);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          opts.onReject?.(family);
          throw new AppError('RATE_LIMITED', `too many ${family} requests`, { retryAfterMs: Math.max(1, Math.ceil(err.msBeforeNext)) });
        }
        throw err;
      }
    },
  };
}
