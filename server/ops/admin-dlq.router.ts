// GET /v1/admin/dlq and POST /v1/admin/dlq/:jobId/retry: the delivery dead-letter queue, for
// operators (`roles: ["admin"]`). Dead letters are never processed, so they all wait in the
// dead-letter queue's `waiting` list, oldest first.
import { Router } from 'express';
import type { Job } from 'bullmq';
import type { z } from 'zod';
import {
  DlqParamsSchema,
  DlqQuerySchema,
  LIMITS,
  type DlqJobSchema,
  type DlqResponseSchema,
  type DlqRetryResponseSchema,
} from '../../protocol/index.js';
import { deliveryJobOptions, JOB_NAME } from '../delivery/queue.js';
import type { DeadLetter } from '../delivery/worker.js';
import { AppError, DependencyUnavailableError } from '../errors.js';
import { requireAdmin } from '../rest/auth.middleware.js';
import type { RestDeps } from '../rest/deps.js';
import { NoQuerySchema, parse } from '../rest/validate.js';

type DlqJob = z.infer<typeof DlqJobSchema>;

/** The dead letter's data may be anything that was read back from Redis; take what is there. */
function toDlqJob(job: Job<DeadLetter>): DlqJob {
  const dead = (job.data ?? {}) as Partial<DeadLetter>;
  // A batch job names its first message (jobs of earlier versions carry one `message`).
  const data = dead.data as { message?: { id?: unknown; conversationId?: unknown }; messages?: unknown } | undefined;
  const message = Array.isArray(data?.messages) ? (data.messages[0] as typeof data.message) : data?.message;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const messageId = str(message?.id);
  const conversationId = str(message?.conversationId);
  const failedReason = str(dead.failedReason) ?? job.failedReason;
  return {
    jobId: job.id ?? '',
    ...(messageId ? { messageId } : {}),
    ...(conversationId ? { conversationId } : {}),
    ...(failedReason ? { failedReason } : {}),
    attemptsMade: Number.isInteger(dead.attemptsMade) && dead.attemptsMade! >= 0 ? dead.attemptsMade! : 0,
    timestamp: Number.isInteger(dead.failedAt) ? dead.failedAt! : job.timestamp,
  };
}

/** Any failure of a queue call here is Redis not answering: 503, retry later. */
function fromRedis<T>(work: Promise<T>): Promise<T> {
  return work.catch((err: unknown) => {
    throw new DependencyUnavailableError('redis', 'the dead-letter queue did not answer', { cause: err });
  });
}

export function createAdminDlqRouter(deps: RestDeps): Router {
  const router = Router();
  const { delivery, deadLetter } = deps.queues;
  const jobOptions = deliveryJobOptions(deps.config.delivery);
  router.use('/admin', requireAdmin);

  router.get('/admin/dlq', async (req, res) => {
    const q = parse(DlqQuerySchema, req.query, 'query');
    const limit = q.limit ?? LIMITS.pageDefault;
    const offset = q.offset ?? 0;
    const [jobs, total] = await fromRedis(
      Promise.all([deadLetter.getJobs(['waiting'], offset, offset + limit - 1, true) as Promise<Job<DeadLetter>[]>, deadLetter.getWaitingCount()]),
    );
    const body: z.infer<typeof DlqResponseSchema> = { jobs: jobs.filter(Boolean).map(toDlqJob), total };
    res.set('Cache-Control', 'no-store').json(body);
  });

  // The replay gets a new job id derived from the dead letter's (unique per dead-lettering):
  // the original `msg-<id>` may still sit in the delivery queue's failed set, where adding it
  // again would be a no-op, and a repeated or concurrent retry of the same dead letter adds
  // nothing twice. The dead letter is removed only after the replay is enqueued.
  router.post('/admin/dlq/:jobId/retry', async (req, res) => {
    const { jobId } = parse(DlqParamsSchema, req.params, 'params');
    parse(NoQuerySchema, req.query, 'query');
    // Only a dead letter waiting in its queue: getJob alone reads any hash under the queue's
    // keyspace (`meta`, `events`, …) as a job, and replaying one would then delete it (§7).
    const state = await fromRedis(deadLetter.getJobState(jobId));
    const job = state === 'waiting' ? ((await fromRedis(deadLetter.getJob(jobId))) as Job<DeadLetter> | undefined) : undefined;
    if (!job || typeof job.data?.data !== 'object' || job.data.data === null) throw new AppError('NOT_FOUND', 'dead-letter job not found');
    const replayedAs = `replay-${jobId}`;
    await fromRedis(delivery.add(JOB_NAME, job.data.data, { ...jobOptions, jobId: replayedAs }));
    await fromRedis(
      job.remove().catch(async (err: unknown) => {
        // Removed concurrently by another retry of the same dead letter: that is fine.
        if (await deadLetter.getJob(jobId)) throw err;
      }),
    );
    const body: z.infer<typeof DlqRetryResponseSchema> = { jobId, replayedAs };
    res.json(body);
  });

  return router;
}
