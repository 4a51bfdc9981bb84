// The delivery worker: validates each job read back from Redis, emits `message:new` to the
// conversation room through the Socket.IO Redis adapter channel (reaching every node), and
// moves jobs that exhausted their attempts to the dead-letter queue.
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { MessageSchema, type Message } from '../../protocol/index.js';
import type { Logger } from '../logger.js';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE, type DeliveryJobData } from './queue.js';

const JobDataSchema = z.strictObject({ message: MessageSchema, acceptedAt: z.number().int().positive() });

export interface DeliveryWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  logger: Logger;
  /** Emits `message:new` to the conversation's room on every node. */
  publish: (message: Message) => void | Promise<void>;
  /** Observes each successful delivery (metrics). */
  onDelivered?: (message: Message, acceptedAt: number) => void;
  /** Observes each job moved to the dead-letter queue (metrics). */
  onDeadLettered?: () => void;
}

export interface DeadLetter {
  /** The original job's data, as it was read back from Redis (possibly malformed). */
  data: unknown;
  originalJobId: string;
  failedReason: string;
  attemptsMade: number;
  failedAt: number;
}

/** The message id of a job's payload, when it has one (payloads are untrusted). */
function messageIdOf(data: unknown): string | undefined {
  const id = (data as { message?: { id?: unknown } } | undefined)?.message?.id;
  return typeof id === 'string' ? id.slice(0, 128) : undefined;
}

export function createDeliveryWorker(opts: DeliveryWorkerOptions) {
  const log = opts.logger.child({ module: 'delivery' });
  // Every line about a job carries its id and its message's id (the correlation to the send).
  const jobLog = (job: Job) => log.child({ jobId: job.id, messageId: messageIdOf(job.data) });
  const dlq = new Queue<DeadLetter>(DEAD_LETTER_QUEUE, { connection: opts.connection, prefix: opts.prefix });

  const worker = new Worker<DeliveryJobData>(
    DELIVERY_QUEUE,
    async (job: Job<DeliveryJobData>) => {
      const parsed = JobDataSchema.safeParse(job.data);
      // A malformed payload fails like any other error: retried with backoff, then dead-lettered,
      // so an operator sees it in the DLQ instead of it vanishing.
      if (!parsed.success) throw new Error(`malformed delivery job: ${parsed.error.issues[0]?.path.join('.') || 'data'}`);
      const { message, acceptedAt } = parsed.data;
      await opts.publish(message);
      opts.onDelivered?.(message, acceptedAt);
      jobLog(job).debug({ conversationId: message.conversationId, attempt: job.attemptsMade + 1 }, 'delivered');
    },
    {
      connection: opts.connection,
      prefix: opts.prefix,
      concurrency: opts.concurrency,
      // A job whose worker died is picked up again after this (and a stalled job runs twice
      // at most: the emit is idempotent for clients, who de-duplicate by message id).
      // Locks are renewed every lockDuration/2; a dead worker's job is re-run within
      // lockDuration + stalledInterval, inside the 30 s promise of PROTOCOL.md §4.
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 2,
    },
  );

  worker.on('failed', (job, err) => {
    if (!job) return;
    void (async () => {
      if (!(await job.isFailed())) {
        jobLog(job).warn({ attemptsMade: job.attemptsMade, err: err.message }, 'delivery failed, will retry');
        return;
      }
      await dlq.add(
        'dead',
        {
          data: job.data,
          originalJobId: job.id ?? '',
          failedReason: err.message,
          attemptsMade: job.attemptsMade,
          failedAt: Date.now(),
        },
        { jobId: `dead-${job.id}-${job.attemptsMade}-${Date.now()}`, removeOnComplete: true, removeOnFail: true },
      );
      opts.onDeadLettered?.();
      jobLog(job).error({ attemptsMade: job.attemptsMade, err: err.message }, 'delivery dead-lettered');
    })().catch((e: unknown) => jobLog(job).error({ err: e }, 'could not dead-letter job'));
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'delivery worker error'));

  let closing: Promise<void> | undefined;
  return {
    worker,
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
        const result = await Promise.race([worker.close().then(() => 'closed' as const), bounded]);
        clearTimeout(timer);
        if (result === 'timeout') log.warn({ timeoutMs }, 'worker did not close in time; leaving active jobs to stall recovery');
        await Promise.race([dlq.close(), new Promise((r) => setTimeout(r, 1_000).unref())]);
      })();
      return closing;
    },
  };
}
