// Configuration: one zod schema over the environment, read once in main.ts, frozen, and handed
// to each module as its own slice. An unset and an empty variable both mean "the default".
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseTrustProxy, type TrustProxy } from './auth/client-ip.js';
import { algorithmsFor, MIN_HS256_BYTES, parseJwtKeys, type JwtKey } from './auth/jwt-keys.js';

export type { JwtKey } from './auth/jwt-keys.js';

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const str = () => z.preprocess(emptyToUndefined, z.string().optional());
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).default(def));
const num = (def: number, min: number) => z.preprocess(emptyToUndefined, z.coerce.number().min(min).default(def));
const bool = (def: boolean) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
      .default(def ? 'true' : 'false')
      .transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
  );
const list = () =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default('')
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
  );
function isUrl(u: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(u).protocol);
  } catch {
    return false;
  }
}
const url = (def: string, protocols: string[]) =>
  z.preprocess(emptyToUndefined, z.string().default(def).refine((u) => isUrl(u, protocols), `must be a ${protocols.join(' or ')} URL`));

const EnvSchema = z
  .object({
    PORT: int(3000, 0, 65535),
    /** One URL (single), or a comma-separated list of seed nodes (cluster); checked in superRefine. */
    REDIS_URL: z.preprocess(emptyToUndefined, z.string().default('redis://127.0.0.1:6379')),
    /** `single`: one Redis (or a Sentinel-less primary); `cluster`: a Redis Cluster, every Redis use on the cluster client (§8). */
    REDIS_MODE: z.preprocess(emptyToUndefined, z.enum(['single', 'cluster']).default('single')),
    /** Prefix of every Redis key and channel this cluster uses (queues, adapter, limits). */
    REDIS_PREFIX: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/).default('rg')),
    /** Refuse to start when Redis may evict keys (BullMQ needs `noeviction`); else only warn. */
    REDIS_REQUIRE_NOEVICTION: bool(false),
    STORE: z.preprocess(emptyToUndefined, z.enum(['mongo', 'postgres']).default('mongo')),
    MONGO_URL: url('mongodb://127.0.0.1:27017/messenger', ['mongodb:', 'mongodb+srv:']),
    DATABASE_URL: url('postgres://127.0.0.1:5432/messenger', ['postgres:', 'postgresql:']),
    DATABASE_POOL_SIZE: int(10, 1, 200),
    JWT_SECRET: str(),
    JWT_PUBLIC_KEY: str(),
    /** Key rotation: JSON object `{ "<kid>": "<secret or PEM>" }`; tokens name their key in `kid`. */
    JWT_KEYS: str(),
    JWT_ISSUER: str(),
    JWT_AUDIENCE: str(),
    /** `production` turns on the §2 start-up refusals (DEV_LOGIN, short HS256 secrets). */
    NODE_ENV: str(),
    ROLE: z.preprocess(emptyToUndefined, z.enum(['gateway', 'worker', 'all']).default('all')),
    NODE_ID: z.preprocess(emptyToUndefined, z.string().max(128).default(`${hostname()}-${process.pid}`)),
    RATE_LIMIT_SCALE: num(1, 0.001),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    /** Which peers are trusted proxies (Express `trust proxy` forms); unset: none, X-Forwarded-For ignored. */
    TRUST_PROXY: str(),
    /** Browser origins allowed to connect (sockets) and call REST (CORS); empty allows any. */
    CORS_ORIGINS: list(),
    /** WebSocket permessage-deflate: off by default (zlib state per socket costs memory and CPU). */
    WS_PER_MESSAGE_DEFLATE: bool(false),
    /** Attachment URL hosts allowed; empty allows any https: host. */
    ATTACHMENT_HOSTS: list(),
    WORKER_CONCURRENCY: int(32, 1, 1000),
    DELIVERY_ATTEMPTS: int(5, 1, 50),
    DELIVERY_BACKOFF_MS: int(500, 1, 3_600_000), // first retry delay, doubled each attempt
    /** ROLE=all: claim own jobs at enqueue, poll for others this often (ms); 0 = BullMQ's blocking worker. */
    DELIVERY_CLAIM_POLL_MS: int(100, 0, 60_000),
    MAX_CONNECTIONS_PER_USER: int(20, 1, 10_000),
    /** Conversation rooms a socket joins at connect, the user's most recently active (§7). */
    MAX_ROOMS_PER_SOCKET: int(10_000, 1, 100_000),
    /** Per-socket budget over all events (§7), × RATE_LIMIT_SCALE: rate per second and burst. */
    SOCKET_EVENT_RATE: int(100, 1, 1_000_000),
    SOCKET_EVENT_BURST: int(200, 1, 1_000_000),
    /** Handlers running at once per socket (× RATE_LIMIT_SCALE when that is above 1). */
    SOCKET_MAX_IN_FLIGHT: int(32, 1, 100_000),
    /** A socket refused for lack of budget at least once a second this long is disconnected. */
    SOCKET_OVER_BUDGET_MS: int(10_000, 100, 600_000),
    SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000),
    /** After SIGTERM, keep serving with /readyz at 503 this long (ms) so the load balancer stops routing here first. */
    SHUTDOWN_READY_DELAY_MS: int(0, 0, 300_000),
    /** `user:password` for /admin/queues (bull-board); unset = only an admin JWT opens it. */
    ADMIN_BASIC_AUTH: str(),
    /** Development only: `POST /dev/login` mints short-lived tokens. Never in production. */
    DEV_LOGIN: bool(false),
    /** Relay mode: ack at once and emit to the room, no store, no queue (transport ceiling). */
    RELAY_MODE: bool(false),
    /**
     * Group commit: sends that arrive while 4 appends are already running on this node are
     * stored together (one transaction, one multi-row insert), at most this many; an idle send
     * still goes out alone at once. 1 = one statement per send. Measured in BENCHMARKS.md.
     */
    APPEND_BATCH_MAX: int(100, 1, 1000),
    APPEND_BATCH_LINGER_MS: int(5, 0, 50), // under a steady stream, sends gather this long into one batch
    RECEIPT_BATCH_LINGER_MS: int(20, 0, 1_000), // under a steady stream, receipts gather this long into one write
    EDIT_WINDOW_S: int(2 * 24 * 3600, 0, 365 * 24 * 3600), // seconds after sending that its sender may edit a message (2 days)
    /** Socket.IO Redis adapter: classic pub/sub, or sharded pub/sub (Redis >= 7, per-room channels). Cluster mode: sharded. */
    SOCKET_ADAPTER: z.preprocess(emptyToUndefined, z.enum(['classic', 'sharded']).optional()),
    /** Presence: each node refreshes its socket counts this often; a node silent for 3 beats is dead, its users offline by the 4th (60 s by default, §9). */
    PRESENCE_HEARTBEAT_MS: int(15_000, 50, 15_000),
    /** Offline push (§9): unset = off. Members without a connected socket get messages posted here. */
    PUSH_WEBHOOK_URL: z.preprocess(emptyToUndefined, z.string().refine((u) => /^https?:\/\/[^\s]+$/.test(u) && URL.canParse(u), 'must be an http: or https: URL').optional()),
    PUSH_WEBHOOK_SECRET: str(), // HMAC-SHA256 key of X-Signature; required with PUSH_WEBHOOK_URL
    PUSH_BATCH_MS: int(2_000, 0, 600_000), // at most one post per user per this window
    PUSH_ATTEMPTS: int(8, 1, 50), // tries of one post before it is dead-lettered
    PUSH_BACKOFF_MS: int(1_000, 1, 3_600_000), // first retry delay, doubled each attempt
    PUSH_TIMEOUT_MS: int(5_000, 100, 120_000), // one post's time limit
  })
  .superRefine((env, ctx) => {
    const urls = env.REDIS_URL.split(',').map((u) => u.trim());
    if (env.REDIS_MODE === 'single' && urls.length > 1)
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'a list of nodes needs REDIS_MODE=cluster' });
    if (urls.some((u) => !isUrl(u, ['redis:', 'rediss:'])))
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'must be a redis: or rediss: URL (cluster: a comma-separated list of them)' });
    // Classic pub/sub on a cluster sends every broadcast through every cluster node's bus.
    if (env.REDIS_MODE === 'cluster' && env.SOCKET_ADAPTER === 'classic')
      ctx.addIssue({ code: 'custom', path: ['SOCKET_ADAPTER'], message: 'must be sharded with REDIS_MODE=cluster' });
    if (!env.JWT_SECRET && !env.JWT_PUBLIC_KEY && !env.JWT_KEYS)
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'JWT_SECRET, JWT_PUBLIC_KEY or JWT_KEYS is required' });
    let rotated: JwtKey[] = [];
    if (env.JWT_KEYS) {
      try {
        rotated = parseJwtKeys(env.JWT_KEYS);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['JWT_KEYS'], message: (err as Error).message });
      }
    }
    // §2: production refuses development shortcuts and guessable HMAC secrets.
    if (env.NODE_ENV === 'production') {
      if (env.DEV_LOGIN) ctx.addIssue({ code: 'custom', path: ['DEV_LOGIN'], message: 'must be off with NODE_ENV=production' });
      if (env.JWT_SECRET && Buffer.byteLength(env.JWT_SECRET) < MIN_HS256_BYTES)
        ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: `must be at least ${MIN_HS256_BYTES} bytes with NODE_ENV=production` });
      const short = rotated.find((k) => k.algorithms.includes('HS256') && Buffer.byteLength(k.key) < MIN_HS256_BYTES);
      if (short) ctx.addIssue({ code: 'custom', path: ['JWT_KEYS'], message: `HS256 key "${short.kid}" must be at least ${MIN_HS256_BYTES} bytes with NODE_ENV=production` });
    }
    try {
      parseTrustProxy(env.TRUST_PROXY);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['TRUST_PROXY'], message: (err as Error).message });
    }
    if (env.SHUTDOWN_READY_DELAY_MS >= env.SHUTDOWN_TIMEOUT_MS)
      ctx.addIssue({ code: 'custom', path: ['SHUTDOWN_READY_DELAY_MS'], message: 'must be below SHUTDOWN_TIMEOUT_MS' });
    if (env.PUSH_WEBHOOK_URL && !env.PUSH_WEBHOOK_SECRET)
      ctx.addIssue({ code: 'custom', path: ['PUSH_WEBHOOK_SECRET'], message: 'is required with PUSH_WEBHOOK_URL' });
    if (env.ADMIN_BASIC_AUTH && !/^[^:]+:.+$/.test(env.ADMIN_BASIC_AUTH))
      ctx.addIssue({ code: 'custom', path: ['ADMIN_BASIC_AUTH'], message: 'must be user:password' });
  });

export type Env = z.output<typeof EnvSchema>;

/**
 * The per-socket budget over all events, valid or malformed (§7), applied in
 * gateway/register.ts: a token bucket refilled at `perSecond` up to `burst`; events beyond it,
 * or beyond `maxInFlight` handlers still running, are answered RATE_LIMITED without being
 * parsed. A socket refused for lack of tokens at least once a second for `disconnectAfterMs`
 * is disconnected.
 */
export interface SocketBudget {
  perSecond: number;
  burst: number;
  maxInFlight: number;
  disconnectAfterMs: number;
}


export interface PushConfig {
  url: string;
  secret: string;
  batchMs: number;
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export interface Config {
  port: number;
  nodeId: string;
  role: 'gateway' | 'worker' | 'all';
  logLevel: Env['LOG_LEVEL'];
  devLogin: boolean;
  relayMode: boolean;
  /** `nodes`: REDIS_URL's seed nodes in cluster mode (single mode: the one URL). */
  redis: { url: string; mode: 'single' | 'cluster'; nodes: string[]; prefix: string; requireNoEviction: boolean; adapter: 'classic' | 'sharded' };
  store:
    | { kind: 'mongo'; url: string }
    | { kind: 'postgres'; url: string; poolSize: number };
  auth: { keys: JwtKey[]; issuer?: string; audience?: string };
  http: { corsOrigins: string[]; trustProxy: TrustProxy; perMessageDeflate: boolean };
  limits: { scale: number; maxConnectionsPerUser: number; maxRoomsPerSocket: number; attachmentHosts: string[]; socketBudget: SocketBudget };
  delivery: { concurrency: number; attempts: number; backoffMs: number; claimPollMs: number };
  messaging: { appendBatchMax: number; appendBatchLingerMs: number; receiptBatchLingerMs: number; editWindowMs: number };
  presence: { heartbeatMs: number };
  /** Offline push; absent when PUSH_WEBHOOK_URL is unset. */
  push?: PushConfig;
  shutdownTimeoutMs: number;
  /** Time between "not ready" and closing the port on shutdown (0: close at once). */
  shutdownReadyDelayMs: number;
  admin: { basicAuth?: string };
}

/** Credentials in URLs (`scheme://user:password@host`) masked, for start-up lines and logs (§7). */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1***@');
}

/** Thrown for a bad environment; main.ts prints its one-line message and exits 1. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses and freezes the configuration; the only place that reads environment variables. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`invalid configuration: ${issue.path.join('.') || 'env'}: ${issue.message}`);
  }
  const e = parsed.data;
  const keys: JwtKey[] = [];
  if (e.JWT_SECRET) keys.push({ key: e.JWT_SECRET, algorithms: ['HS256'] });
  if (e.JWT_PUBLIC_KEY) {
    const pem = e.JWT_PUBLIC_KEY.replace(/\\n/g, '\n');
    keys.push({ key: pem, algorithms: algorithmsFor(pem).filter((a) => a !== 'HS256') });
  }
  if (e.JWT_KEYS) keys.push(...parseJwtKeys(e.JWT_KEYS));
  const config: Config = {
    port: e.PORT,
    nodeId: e.NODE_ID,
    role: e.ROLE,
    logLevel: e.LOG_LEVEL,
    devLogin: e.DEV_LOGIN,
    relayMode: e.RELAY_MODE,
    redis: { url: e.REDIS_URL, mode: e.REDIS_MODE, nodes: e.REDIS_URL.split(',').map((u) => u.trim()), prefix: e.REDIS_PREFIX,
      requireNoEviction: e.REDIS_REQUIRE_NOEVICTION, adapter: e.SOCKET_ADAPTER ?? (e.REDIS_MODE === 'cluster' ? 'sharded' : 'classic') },
    store:
      e.STORE === 'mongo'
        ? { kind: 'mongo', url: e.MONGO_URL }
        : { kind: 'postgres', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE },
    auth: { keys, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE },
    http: { corsOrigins: e.CORS_ORIGINS, trustProxy: parseTrustProxy(e.TRUST_PROXY), perMessageDeflate: e.WS_PER_MESSAGE_DEFLATE },
    limits: {
      scale: e.RATE_LIMIT_SCALE,
      maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
      maxRoomsPerSocket: e.MAX_ROOMS_PER_SOCKET,
      attachmentHosts: e.ATTACHMENT_HOSTS,
      socketBudget: {
        perSecond: e.SOCKET_EVENT_RATE * e.RATE_LIMIT_SCALE,
        burst: Math.max(1, Math.round(e.SOCKET_EVENT_BURST * e.RATE_LIMIT_SCALE)),
        maxInFlight: Math.ceil(e.SOCKET_MAX_IN_FLIGHT * Math.max(1, e.RATE_LIMIT_SCALE)),
        disconnectAfterMs: e.SOCKET_OVER_BUDGET_MS,
      },
    },
    delivery: { concurrency: e.WORKER_CONCURRENCY, attempts: e.DELIVERY_ATTEMPTS, backoffMs: e.DELIVERY_BACKOFF_MS, claimPollMs: e.DELIVERY_CLAIM_POLL_MS },
    messaging: {
      appendBatchMax: e.APPEND_BATCH_MAX,
      appendBatchLingerMs: e.APPEND_BATCH_LINGER_MS,
      receiptBatchLingerMs: e.RECEIPT_BATCH_LINGER_MS,
      editWindowMs: e.EDIT_WINDOW_S * 1000,
    },
    presence: { heartbeatMs: e.PRESENCE_HEARTBEAT_MS },
    ...(e.PUSH_WEBHOOK_URL && e.PUSH_WEBHOOK_SECRET
      ? { push: { url: e.PUSH_WEBHOOK_URL, secret: e.PUSH_WEBHOOK_SECRET, batchMs: e.PUSH_BATCH_MS, attempts: e.PUSH_ATTEMPTS, backoffMs: e.PUSH_BACKOFF_MS, timeoutMs: e.PUSH_TIMEOUT_MS } }
      : {}),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    shutdownReadyDelayMs: e.SHUTDOWN_READY_DELAY_MS,
    admin: { basicAuth: e.ADMIN_BASIC_AUTH },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
