// The delivery queue (producer side). The messages a node stores in one batch become ONE
// BullMQ job, so the queue's cost (its scripts, its events, the worker's two round trips) is
// paid per batch instead of per message. System messages (membership changes) go to a lane of
// their own, so they never wait behind user traffic and no job pays for BullMQ's priorities.
import { Queue, type JobsOptions } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Message } from '../../protocol/index.js';
import { DependencyUnavailableError } from '../errors.js';
import type { DeliveryQueue } from '../messaging/ports.js';

export const DELIVERY_QUEUE = 'delivery';
export const SYSTEM_QUEUE = 'delivery-system';
export const DEAD_LETTER_QUEUE = 'delivery-dlq';
export const JOB_NAME = 'deliver';

/**
 * A delivery job: the messages of one stored batch, all emitted by one run of the job. Jobs
 * queued by earlier versions carry a single `message`; the worker still accepts that form.
 */
export interface DeliveryJobData {
  messages: Message[];
  /** Epoch ms when the sends were accepted (send→fan-out latency). */
  acceptedAt: number;
  /** `message:updated` for a change (PROTOCOL.md §9); absent for new messages. */
  event?: 'message:updated';
}

export interface DeliveryQueueOptions {
  connection: Redis | Cluster;
  prefix: string;
  attempts: number;
  backoffMs: number;
  /** A send waits at most this long for its job to be enqueued, then answers UNAVAILABLE. */
  enqueueTimeoutMs?: number;
}

/** The job id of a single message's (re)delivery: a repeat while it exists adds nothing. */
export function jobIdFor(messageId: string): string {
  return `msg-${messageId}`;
}

/** The job id of one change of a message: its updatedSeq names the change. */
export function updateJobIdFor(message: Message): string {
  return `upd-${message.id}-${message.updatedSeq ?? 0}`;
}

/** The job id of a batch: its first message's id is unique, and no other batch holds it. */
export function batchJobIdFor(messages: readonly Message[]): string {
  return `batch-${messages[0]!.id}`;
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

export type EnqueuedListener = (queue: string, added: Promise<unknown>, job: { id: string; data: DeliveryJobData }) => void;

export type DeliveryQueues = DeliveryQueue & {
  queue: Queue<DeliveryJobData>;
  systemQueue: Queue<DeliveryJobData>;
  dlq: Queue;
  /** Every queue of the pipeline, for metrics and the dashboard. */
  all: Queue[];
  /**
   * Calls `listener` as each job's add is issued, with the lane's queue name, the add's outcome
   * (a claiming worker's kick: its fetch leaves in the same write, after the add), and the job
   * as this process built it.
   */
  onEnqueued(listener: EnqueuedListener): void;
  close(): Promise<void>;
};

export function createDeliveryQueue(opts: DeliveryQueueOptions): DeliveryQueues {
  const queue = new Queue<DeliveryJobData>(DELIVERY_QUEUE, { connection: opts.connection, prefix: opts.prefix });
  const systemQueue = new Queue<DeliveryJobData>(SYSTEM_QUEUE, { connection: opts.connection, prefix: opts.prefix });
  const dlq = new Queue(DEAD_LETTER_QUEUE, { connection: opts.connection, prefix: opts.prefix });
  const base = deliveryJobOptions(opts);
  const timeoutMs = opts.enqueueTimeoutMs ?? 2_000;
  let closing: Promise<void> | undefined;
  const listeners: EnqueuedListener[] = [];

  // BullMQ waits for a reconnecting connection; a send must not hang for the outage. Anything
  // the add throws is Redis not answering (a repeated job id is not an error), so the caller
  // gets one typed error however ioredis worded it.
  async function bounded(added: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DependencyUnavailableError('queue', `delivery enqueue took over ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([added, timeout]);
    } catch (err) {
      throw err instanceof DependencyUnavailableError ? err : new DependencyUnavailableError('queue', 'delivery enqueue failed', { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  function add(lane: Queue<DeliveryJobData>, messages: Message[], jobId: string, event?: DeliveryJobData['event']): Promise<unknown> {
    const data: DeliveryJobData = { messages, acceptedAt: Date.now(), ...(event ? { event } : {}) };
    const added = lane.add(JOB_NAME, data, { ...base, jobId });
    for (const listener of listeners) listener(lane.name, added, { id: jobId, data });
    return added;
  }

  return {
    queue,
    systemQueue,
    dlq,
    all: [queue, systemQueue, dlq],
    onEnqueued: (listener) => void listeners.push(listener),
    available: () => opts.connection.status === 'ready',
    async enqueue(messages) {
      const ids = new Map<string, string>();
      const adds: Promise<unknown>[] = [];
      for (const [lane, batch] of [
        [queue, messages.filter((m) => m.kind !== 'system')],
        [systemQueue, messages.filter((m) => m.kind === 'system')],
      ] as const) {
        if (batch.length === 0) continue;
        const jobId = batchJobIdFor(batch);
        for (const m of batch) ids.set(m.id, jobId);
        adds.push(add(lane, batch, jobId));
      }
      if (adds.length) await bounded(Promise.all(adds));
      return ids;
    },
    // Changes ride the user lane: they are user traffic and must not delay membership changes.
    async enqueueUpdate(message) {
      const jobId = updateJobIdFor(message);
      await bounded(add(queue, [message], jobId, 'message:updated'));
      return jobId;
    },
    async redeliver(message) {
      const jobId = jobIdFor(message.id);
      await bounded(add(message.kind === 'system' ? systemQueue : queue, [message], jobId));
      return jobId;
    },
    close() {
      closing ??= Promise.all([queue.close(), systemQueue.close(), dlq.close()]).then(() => undefined);
      return closing;
    },
  };
}
