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
}

export interface DeadLetter {
  /** The original job's data, as it was read back from Redis (possibly malformed). */
  data: unknown;
  originalJobId: string;
  failedReason: string;
  attemptsMade: number;
  failedAt: number;
}

export function createDeliveryWorker(opts: DeliveryWorkerOptions) {
  const log = opts.logger.child({ module: 'delivery' });
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
      log.debug({ jobId: job.id, messageId: message.id, conversationId: message.conversationId }, 'delivered');
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
        log.warn({ jobId: job.id, attemptsMade: job.attemptsMade, err: err.message }, 'delivery failed, will retry');
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
      log.error({ jobId: job.id, attemptsMade: job.attemptsMade, err: err.message }, 'delivery dead-lettered');
    })().catch((e: unknown) => log.error({ err: e, jobId: job.id }, 'could not dead-letter job'));
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'delivery worker error'));

  let closing: Promise<void> | undefined;
  return {
    worker,
    /** Waits for running jobs to finish, then closes. Idempotent. */
    close() {
      closing ??= worker.close().then(() => dlq.close());
      return closing;
    },
  };
}
