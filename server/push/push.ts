// Offline push (§9) on a BullMQ queue of its own, off the delivery path: the delivery worker
// hands each delivered batch over with one `fanout` job, after its `message:new` emits left.
//   fanout: per message, the members who are not online anywhere and did not mute the
//           conversation get it appended to their pending list; the first append of a window
//           schedules that user's `flush` PUSH_BATCH_MS later (a Redis marker that expires
//           with the window, so one flush per user per window).
//   flush:  takes the user's pending list and makes ONE `post` of one conversation's messages;
//           what is left (other conversations) waits for the next window.
//   post:   the signed webhook call, retried with exponential back-off; after the last attempt
//           it moves to the push dead-letter queue.
import { createHash } from 'node:crypto';
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { RedisClient as Redis } from '../redis.js';
import type { Message } from '../../protocol/index.js';
import type { PushConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { PresenceStore } from '../presence/presence-store.js';
import type { Store } from '../store/store.js';
import type { Mutes } from './mutes.js';
import { postWebhook, WebhookError, type PushBody, type WebhookFailure } from './webhook.js';

export const PUSH_QUEUE = 'push';
export const PUSH_DEAD_LETTER_QUEUE = 'push-dlq';
/** A user's pending list keeps the newest this many messages; older ones are dropped unposted. */
const MAX_PENDING = 200;
const PENDING_TTL_S = 24 * 3600;
/** A flush runs a little after its window's marker expired, so nothing lands between the two. */
const FLUSH_SLACK_MS = 50;

type PushJob = { name: 'fanout'; data: { messages: Message[] } } | { name: 'flush'; data: { userId: string } } | { name: 'post'; data: PushBody };
export type PushStep = PushJob['name'];
export const PUSH_STEPS: readonly PushStep[] = ['fanout', 'flush', 'post'];

const KEEP = { removeOnComplete: { age: 600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600, count: 10_000 } };

/** How each step of push is retried (a replay from the dead-letter queue gets the same). */
export function pushJobOptions(step: PushStep, config: Pick<PushConfig, 'attempts' | 'backoffMs'>): JobsOptions {
  if (step === 'post') return { ...KEEP, attempts: config.attempts, backoff: { type: 'exponential', delay: config.backoffMs } };
  if (step === 'flush') return { ...KEEP, attempts: 3, backoff: { type: 'exponential', delay: 200 } };
  return { ...KEEP, attempts: 5, backoff: { type: 'exponential', delay: 500 } };
}

/** What the push worker writes to the push dead-letter queue. */
export interface PushDeadLetter {
  name: PushStep;
  data: unknown;
  originalJobId: string;
  failedReason: string;
  attemptsMade: number;
  failedAt: number;
}

export interface PushOptions {
  connection: Redis;
  /**
   * The connection the push queues are opened on (default `connection`): BullMQ defines its
   * scripts on it, which makes every ioredis pipeline built there dear (see RedisClients.queues).
   */
  queueConnection?: Redis;
  /** Blocking connection for the workers; absent on nodes that run no workers (enqueue only). */
  workerConnection?: Redis;
  prefix: string;
  config: PushConfig;
  store: Store;
  presence: PresenceStore;
  mutes: Mutes;
  logger: Logger;
  /** Metrics hooks, called once per post attempt, per post made and per dead letter. */
  observe?: PushObserver;
}

/** What push reports to metrics (server/ops/instrument.ts), without importing prom-client. */
export interface PushObserver {
  /** One webhook call ended: its outcome and how long it took. */
  posted(outcome: 'ok' | WebhookFailure, seconds: number): void;
  /** A flush made a post of this many messages. */
  batched(messages: number): void;
  deadLettered(): void;
}

export type Push = ReturnType<typeof createPush>;

/**
 * The push queue and its dead-letter queue as Queue objects (producer side): the push worker's,
 * and on nodes without one, the admin routes' (dead letters outlive a node's role or config).
 */
export function openPushQueues(connection: Redis, prefix: string): { queue: Queue; deadLetter: Queue; close(): Promise<void> } {
  const queue = new Queue(PUSH_QUEUE, { connection, prefix });
  const deadLetter = new Queue(PUSH_DEAD_LETTER_QUEUE, { connection, prefix });
  let closing: Promise<void> | undefined;
  return {
    queue,
    deadLetter,
    close() {
      closing ??= Promise.all([queue.close(), deadLetter.close()]).then(() => undefined);
      return closing;
    },
  };
}

export function createPush(opts: PushOptions) {
  const { connection: redis, config } = opts;
  const log = opts.logger.child({ module: 'push' });
  const queues = openPushQueues(opts.queueConnection ?? redis, opts.prefix);
  const { queue, deadLetter: dlq } = queues;
  const pendingKey = (userId: string) => `${opts.prefix}:push:{${userId}}:pending`;
  const windowKey = (userId: string) => `${opts.prefix}:push:{${userId}}:window`;

  /** Current members of the conversation, paged through the store. */
  async function membersOf(conversationId: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await opts.store.listMembers(conversationId, { limit: 1_000, ...(cursor ? { cursor } : {}) });
      ids.push(...page.items.map((m) => m.userId));
      cursor = page.nextCursor;
    } while (cursor);
    return ids;
  }

  /** Opens the user's window unless one is open; the opener schedules the window's flush. */
  async function scheduleFlush(userId: string): Promise<void> {
    const opened = await redis.set(windowKey(userId), '1', 'PX', Math.max(1, config.batchMs), 'NX');
    if (opened) await queue.add('flush', { userId }, { ...pushJobOptions('flush', config), delay: config.batchMs + FLUSH_SLACK_MS });
  }

  async function fanout(messages: Message[]): Promise<void> {
    const byConversation = new Map<string, Message[]>();
    for (const m of messages) {
      const batch = byConversation.get(m.conversationId);
      if (batch) batch.push(m);
      else byConversation.set(m.conversationId, [m]);
    }
    for (const [conversationId, batch] of byConversation) {
      const members = await membersOf(conversationId);
      const [online, muted] = await Promise.all([opts.presence.online(members), opts.mutes.mutedAmong(conversationId, members)]);
      const offline = members.filter((u) => !online.has(u) && !muted.has(u));
      // Every offline member at once: ioredis pipelines the commands on one connection instead
      // of a round trip per member in turn (a large channel has thousands of them).
      await Promise.all(
        offline.map(async (userId) => {
          const theirs = batch.filter((m) => m.senderId !== userId);
          if (theirs.length === 0) return;
          await redis
            .multi()
            .rpush(pendingKey(userId), ...theirs.map((m) => JSON.stringify(m)))
            .ltrim(pendingKey(userId), -MAX_PENDING, -1)
            .expire(pendingKey(userId), PENDING_TTL_S)
            .exec();
          await scheduleFlush(userId);
        }),
      );
    }
  }

  async function flush(userId: string): Promise<void> {
    const [[, raw]] = ((await redis.multi().lrange(pendingKey(userId), 0, -1).del(pendingKey(userId)).exec()) ?? []) as [[unknown, string[]]];
    const pending = raw.map((s) => JSON.parse(s) as Message);
    if (pending.length === 0) return;
    const conversationId = pending[0]!.conversationId;
    const messages = pending.filter((m) => m.conversationId === conversationId);
    const rest = pending.filter((m) => m.conversationId !== conversationId);
    opts.observe?.batched(messages.length);
    await queue.add('post', { userId, conversationId, messages } satisfies PushBody, {
      ...pushJobOptions('post', config),
      // BullMQ ids may not hold ':', which user ids may.
      jobId: `post-${createHash('sha256').update(userId).digest('hex').slice(0, 24)}-${messages[0]!.id}`,
    });
    if (rest.length) {
      // Back in front, in order: the next window posts the next conversation.
      await redis.lpush(pendingKey(userId), ...rest.reverse().map((m) => JSON.stringify(m)));
      await scheduleFlush(userId);
    }
  }

  async function run(job: Job): Promise<void> {
    const j = job as unknown as PushJob;
    if (j.name === 'fanout') return fanout(j.data.messages);
    if (j.name === 'flush') return flush(j.data.userId);
    const started = performance.now();
    try {
      await postWebhook(config, j.data, job.id ?? '');
    } catch (err) {
      opts.observe?.posted(err instanceof WebhookError ? err.failure : 'unreachable', (performance.now() - started) / 1000);
      throw err;
    }
    opts.observe?.posted('ok', (performance.now() - started) / 1000);
  }

  const worker = opts.workerConnection
    ? new Worker(PUSH_QUEUE, run, { connection: opts.workerConnection, prefix: opts.prefix, concurrency: 8 })
    : undefined;
  worker?.on('failed', (job, err) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    log.warn({ jobId: job.id, name: job.name, attemptsMade: job.attemptsMade, err: err.message }, 'push dead-lettered');
    void dlq
      .add(
        'dead',
        { name: job.name as PushStep, data: job.data, originalJobId: job.id ?? '', failedReason: err.message, attemptsMade: job.attemptsMade, failedAt: Date.now() } satisfies PushDeadLetter,
        { removeOnComplete: true, removeOnFail: true },
      )
      .then(() => opts.observe?.deadLettered())
      .catch((e: unknown) => log.error({ err: e, jobId: job.id }, 'could not dead-letter push'));
  });
  worker?.on('error', (err) => log.warn({ err: err.message }, 'push worker error'));

  let closing: Promise<void> | undefined;
  return {
    queue,
    dlq,
    /**
     * Hands a delivered batch to push: one job, added after its emits left, so neither a slow
     * webhook nor this enqueue delays `message:new`. System messages are not pushed. Never throws.
     */
    async delivered(messages: readonly Message[], deliveryJobId: string | undefined): Promise<void> {
      const pushed = messages.filter((m) => m.kind !== 'system');
      if (pushed.length === 0) return;
      // Keyed by the delivery job: a retried delivery does not push twice.
      await queue
        .add('fanout', { messages: pushed }, { ...pushJobOptions('fanout', config), ...(deliveryJobId ? { jobId: `fanout-${deliveryJobId}` } : {}) })
        .catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err), deliveryJobId }, 'push not enqueued'));
    },
    close(): Promise<void> {
      closing ??= (async () => {
        await worker?.close();
        await queues.close();
      })();
      return closing;
    },
  };
}
