// The delivery queue (producer side). An accepted message becomes one BullMQ job whose id is
// derived from the message id, so a retried send never enqueues a second job while the first
// is pending or recently completed.
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Message } from '../../protocol/index.js';
import type { DeliveryQueue } from '../messaging/ports.js';

export const DELIVERY_QUEUE = 'delivery';
export const DEAD_LETTER_QUEUE = 'delivery-dlq';
export const JOB_NAME = 'deliver';

// Jobs without a priority run before any prioritized job (BullMQ), so system messages go
// unprioritized and user messages get one.
const USER_PRIORITY = 5;

export interface DeliveryJobData {
  message: Message;
  /** Epoch ms when the send was accepted (send→fan-out latency). */
  acceptedAt: number;
}

export interface DeliveryQueueOptions {
  connection: Redis;
  prefix: string;
  attempts: number;
  backoffMs: number;
  /** A send waits at most this long for its job to be enqueued, then answers UNAVAILABLE. */
  enqueueTimeoutMs?: number;
}

export function jobIdFor(messageId: string): string {
  return `msg-${messageId}`;
}

export function deliveryJobOptions(opts: Pick<DeliveryQueueOptions, 'attempts' | 'backoffMs'>): JobsOptions {
  return {
    attempts: opts.attempts,
    backoff: { type: 'exponential', delay: opts.backoffMs },
    // Completed jobs are kept briefly so a repeated send within that time is a no-op;
    // the count bound keeps Redis memory flat under load.
    removeOnComplete: { age: 600, count: 20_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}

export function createDeliveryQueue(opts: DeliveryQueueOptions): DeliveryQueue & { queue: Queue; dlq: Queue; close(): Promise<void> } {
  const queue = new Queue<DeliveryJobData>(DELIVERY_QUEUE, { connection: opts.connection, prefix: opts.prefix });
  const dlq = new Queue(DEAD_LETTER_QUEUE, { connection: opts.connection, prefix: opts.prefix });
  const base = deliveryJobOptions(opts);
  let closing: Promise<void> | undefined;

  return {
    queue,
    dlq,
    available: () => opts.connection.status === 'ready',
    async enqueue(messages) {
      if (messages.length === 0) return;
      const acceptedAt = Date.now();
      const jobs = messages.map((message) => ({
        name: JOB_NAME,
        data: { message, acceptedAt },
        opts: {
          ...base,
          jobId: jobIdFor(message.id),
          ...(message.kind === 'system' ? {} : { priority: USER_PRIORITY }),
        },
      }));
      const added = jobs.length === 1 ? queue.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts) : queue.addBulk(jobs);
      // BullMQ waits for a reconnecting connection; a send must not hang for the outage.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Command timed out: delivery enqueue')), opts.enqueueTimeoutMs ?? 2_000);
      });
      try {
        await Promise.race([added, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      closing ??= Promise.all([queue.close(), dlq.close()]).then(() => undefined);
      return closing;
    },
  };
}
