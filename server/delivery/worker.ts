// The delivery workers: validate each job read back from Redis, emit `message:new` for each of
// its messages to the conversation room through the Socket.IO Redis adapter channel (reaching
// every node), and move jobs that exhausted their attempts to the dead-letter queue. One worker
// per lane: user batches, and system messages, which never wait behind user traffic.
import { createRedisBackend, UnrecoverableError, Worker, type BackendFactory, type Job, type Queue, type RedisQueueBackend } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { MessageSchema, type Message } from '../../protocol/index.js';
import type { Logger } from '../logger.js';
import { createClaimingConsumer, type ClaimingConsumer } from './claim.js';
import { createRecentMap } from '../recent-map.js';
import { DELIVERY_QUEUE, SYSTEM_QUEUE, type DeliveryJobData } from './queue.js';

// A batch holds at most one group commit (APPEND_BATCH_MAX ≤ 1000); the bound stops a forged
// job from making one run emit without end.
const MAX_MESSAGES_PER_JOB = 1_000;
/** How long the data of a job this process enqueued is kept for its claim (normally microseconds). */
const OWN_JOB_MEMORY_MS = 30_000;

export type MessageEvent = 'message:new' | 'message:updated';

const JobDataSchema = z.union([
  z.strictObject({
    messages: z.array(MessageSchema).min(1).max(MAX_MESSAGES_PER_JOB),
    acceptedAt: z.number().int().positive(),
    event: z.literal('message:updated').optional(),
  }),
  // The single-message form of earlier versions, still in Redis during a rolling update.
  z.strictObject({ message: MessageSchema, acceptedAt: z.number().int().positive() }).transform(({ message, acceptedAt }) => ({ messages: [message], acceptedAt })),
]);

export interface DeliveryWorkerOptions {
  connection: Redis | Cluster;
  prefix: string;
  /** Jobs run at once by the user-message worker (the system lane runs fewer). */
  concurrency: number;
  logger: Logger;
  /** The dead-letter queue (the producer's; one Queue object per process). */
  deadLetter: Queue;
  /** Emits `message:new` (or `message:updated` for a change) to the conversation's room on every node. */
  publish: (message: Message, event?: MessageEvent) => void | Promise<void>;
  /**
   * Resolves once every publish made so far has reached Redis. `publish` is fire-and-forget (the
   * adapter and the emitter do not return the PUBLISH), and a job marked complete while its
   * PUBLISH still sat in this process would be lost with the process.
   */
  published?: () => Promise<unknown>;
  /** Observes each delivered message (metrics). */
  onDelivered?: (message: Message, acceptedAt: number) => void;
  /** Observes each job moved to the dead-letter queue (metrics). */
  onDeadLettered?: () => void;
  /** Runs once per delivered batch, after its emits reached Redis (offline push); must not throw. */
  afterDelivered?: (messages: Message[], jobId: string | undefined) => Promise<void>;
  /**
   * Claim jobs instead of blocking for them (claim.ts): for a node that enqueues the jobs itself
   * and calls `kick` after each enqueue. Absent: BullMQ's blocking loop (worker-only nodes).
   */
  claim?: { pollMs: number; nodeId: string; connection: Redis | Cluster };
}

// A claiming worker never blocks: no blocking connection, and it runs on the connection the
// jobs are added on (shared, never duplicated), so an add and the fetch of it share a write.
const withoutBlocking: BackendFactory<RedisQueueBackend> = (name, options, flags) => createRedisBackend(name, options, { ...flags, withBlockingConnection: false });

export interface DeadLetter {
  /** The original job's data, as it was read back from Redis (possibly malformed). */
  data: unknown;
  originalJobId: string;
  failedReason: string;
  attemptsMade: number;
  failedAt: number;
}

/** The first message id of a job's payload, when it has one (payloads are untrusted). */
function messageIdOf(data: unknown): string | undefined {
  const d = data as { message?: { id?: unknown }; messages?: { id?: unknown }[] } | undefined;
  const id = Array.isArray(d?.messages) ? d.messages[0]?.id : d?.message?.id;
  return typeof id === 'string' ? id.slice(0, 128) : undefined;
}

export function createDeliveryWorker(opts: DeliveryWorkerOptions) {
  const log = opts.logger.child({ module: 'delivery' });
  // Every line about a job carries its id and its (first) message's id: the correlation to the send.
  const jobLog = (job: Job) => log.child({ jobId: job.id, messageId: messageIdOf(job.data) });

  // The data of the jobs this process just enqueued, as it built them from what the store
  // returned: the claim of such a job uses them instead of validating its own JSON read back.
  const own = createRecentMap<DeliveryJobData>(OWN_JOB_MEMORY_MS);
  const debug = log.isLevelEnabled('debug');

  /** The job's data: this process's own (trusted), or what Redis returned, validated. */
  function dataOf(job: Job<DeliveryJobData>): DeliveryJobData {
    const mine = job.id === undefined || job.attemptsMade > 0 ? undefined : own.take(job.id);
    if (mine) return mine;
    const parsed = JobDataSchema.safeParse(job.data);
    // A malformed payload will never succeed: it fails at once (no retries) and is
    // dead-lettered, so an operator sees it in the DLQ instead of it vanishing.
    if (!parsed.success) throw new UnrecoverableError(`malformed delivery job: ${parsed.error.issues[0]?.path.join('.') || 'data'}`);
    return parsed.data;
  }

  async function deliver(job: Job<DeliveryJobData>): Promise<void> {
    const data = dataOf(job);
    const { messages, acceptedAt } = data;
    const event = data.event ?? 'message:new';
    // A retried job emits every message again: clients de-duplicate by message id.
    for (const message of messages) await opts.publish(message, event);
    await opts.published?.();
    for (const message of messages) opts.onDelivered?.(message, acceptedAt);
    await opts.afterDelivered?.(messages, job.id);
    // Ids only (never text): each send's "message accepted" line names its messageId and jobId.
    if (debug) jobLog(job).debug({ messageIds: messages.map((m) => m.id), attempt: job.attemptsMade + 1 }, 'delivered');
  }

  const settings = {
    connection: opts.connection,
    prefix: opts.prefix,
    // A job whose worker died is picked up again after this (and a stalled job runs twice
    // at most: the emit is idempotent for clients, who de-duplicate by message id).
    // Locks are renewed every lockDuration/2; a dead worker's job is re-run within
    // lockDuration + stalledInterval = 15 s.
    lockDuration: 10_000,
    stalledInterval: 5_000,
    maxStalledCount: 2,
  };
  const lanes = [
    { name: DELIVERY_QUEUE, concurrency: opts.concurrency },
    { name: SYSTEM_QUEUE, concurrency: Math.min(opts.concurrency, 4) },
  ];
  const claim = opts.claim;
  const workers = lanes.map((lane) =>
    claim
      ? new Worker<DeliveryJobData>(lane.name, null, { ...settings, connection: claim.connection, concurrency: lane.concurrency, autorun: false }, withoutBlocking)
      : new Worker<DeliveryJobData>(lane.name, deliver, { ...settings, concurrency: lane.concurrency }),
  );
  const consumers = new Map<string, ClaimingConsumer>();
  if (claim) {
    workers.forEach((worker, i) =>
      consumers.set(
        worker.name,
        createClaimingConsumer({
          worker,
          process: deliver,
          concurrency: lanes[i]!.concurrency,
          pollMs: claim.pollMs,
          tokenPrefix: `${claim.nodeId}:${worker.name}`,
          onError: (err) => log.warn({ queue: worker.name, err: err instanceof Error ? err.message : String(err) }, 'delivery claim failed; stalled recovery re-runs the job'),
        }),
      ),
    );
  }

  for (const worker of workers) {
    worker.on('failed', (job, err) => {
      if (!job) return;
      void (async () => {
        if (!(err instanceof UnrecoverableError) && !(await job.isFailed())) {
          jobLog(job).warn({ attemptsMade: job.attemptsMade, err: err.message }, 'delivery failed, will retry');
          return;
        }
        await opts.deadLetter.add(
          'dead',
          {
            data: job.data,
            originalJobId: job.id ?? '',
            failedReason: err.message,
            attemptsMade: job.attemptsMade,
            failedAt: Date.now(),
          } satisfies DeadLetter,
          { jobId: `dead-${job.id}-${job.attemptsMade}-${Date.now()}`, removeOnComplete: true, removeOnFail: true },
        );
        opts.onDeadLettered?.();
        jobLog(job).error({ attemptsMade: job.attemptsMade, err: err.message }, 'delivery dead-lettered');
      })().catch((e: unknown) => jobLog(job).error({ err: e }, 'could not dead-letter job'));
    });
    worker.on('error', (err) => log.warn({ queue: worker.name, err: err.message }, 'delivery worker error'));
  }

  let closing: Promise<void> | undefined;
  return {
    /** The user-message worker and the system-message worker. */
    workers,
    /** A job's add on `queue` (a lane's name) was just issued: claim it now (no-op for blocking workers). */
    kick(queue: string, added?: Promise<unknown>, job?: { id: string; data: DeliveryJobData }): void {
      const consumer = consumers.get(queue);
      if (!consumer) return;
      if (job) own.set(job.id, job.data);
      consumer.kick(added);
    },
    /**
     * Waits for running jobs to finish, then closes. Idempotent. Bounded: BullMQ's close can
     * hang after a Redis restart (taskforcesh/bullmq#2430, #4656); past the bound the process
     * exits anyway and any job still active is re-run by another worker as a stalled job.
     */
    close(timeoutMs = 5_000) {
      closing ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const bounded = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        });
        const closed = Promise.all([...consumers.values()].map((c) => c.close()))
          .then(() => Promise.all(workers.map((w) => w.close())))
          .then(() => 'closed' as const);
        const result = await Promise.race([closed, bounded]);
        clearTimeout(timer);
        if (result === 'timeout') log.warn({ timeoutMs }, 'workers did not close in time; leaving active jobs to stall recovery');
      })();
      return closing;
    },
  };
}
