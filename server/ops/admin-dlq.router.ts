// The dead-letter queues, for operators (`roles: ["admin"]`): `GET /v1/admin/dlq`,
// `POST /v1/admin/dlq/:jobId/retry` and `DELETE /v1/admin/dlq/:jobId`, each on the delivery
// dead-letter queue, or with `?queue=push` on the push one. Dead letters are never processed,
// so they all wait in their queue's `waiting` list, oldest first.
import { Router } from 'express';
import type { Job, JobsOptions, Queue } from 'bullmq';
import type { z } from 'zod';
import {
  DlqParamsSchema,
  DlqQuerySchema,
  DlqTargetQuerySchema,
  LIMITS,
  type DlqJobSchema,
  type DlqQueue,
  type DlqResponseSchema,
  type DlqRetryResponseSchema,
} from '../../protocol/index.js';
import { deliveryJobOptions, JOB_NAME } from '../delivery/queue.js';
import type { DeadLetter } from '../delivery/worker.js';
import { AppError, DependencyUnavailableError } from '../errors.js';
import { PUSH_STEPS, pushJobOptions, type PushDeadLetter, type PushStep } from '../push/push.js';
import { requireAdmin } from '../rest/auth.middleware.js';
import type { RestDeps } from '../rest/deps.js';
import { parse } from '../rest/validate.js';

type DlqJob = z.infer<typeof DlqJobSchema>;

/** One dead-letter queue and how its dead letters go back to work. */
interface DeadLetters {
  deadLetter: Queue;
  /** The queue and job a dead letter is replayed as; undefined when its data cannot be replayed. */
  replay(dead: Partial<PushDeadLetter>): { queue: Queue; name: string; options: JobsOptions } | undefined;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The dead letter's data may be anything that was read back from Redis; take what is there. */
function toDlqJob(job: Job<DeadLetter | PushDeadLetter>, queue: DlqQueue): DlqJob {
  const dead = (job.data ?? {}) as Partial<PushDeadLetter>;
  // A batch job names its first message (jobs of earlier versions carry one `message`); a push
  // post names its conversation, a push fan-out only its messages, a push flush neither.
  const data = dead.data as { message?: { id?: unknown; conversationId?: unknown }; messages?: unknown; conversationId?: unknown } | undefined;
  const message = Array.isArray(data?.messages) ? (data.messages[0] as typeof data.message) : data?.message;
  const messageId = str(message?.id);
  const conversationId = str(data?.conversationId) ?? str(message?.conversationId);
  const failedReason = str(dead.failedReason) ?? job.failedReason;
  const step = queue === 'push' && PUSH_STEPS.includes(dead.name as PushStep) ? (dead.name as PushStep) : undefined;
  return {
    jobId: job.id ?? '',
    ...(step ? { step } : {}),
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
  const { queues } = deps;
  const deliveryOptions = deliveryJobOptions(deps.config.delivery);
  // Retries as configured; with push off (dead letters of an earlier configuration), the defaults.
  const pushConfig = deps.config.push ?? { attempts: 8, backoffMs: 1_000 };
  const targets: Record<DlqQueue, DeadLetters | undefined> = {
    delivery: queues.deadLetter && {
      deadLetter: queues.deadLetter,
      replay: () => ({ queue: queues.delivery, name: JOB_NAME, options: deliveryOptions }),
    },
    push: queues.push && {
      deadLetter: queues.push.deadLetter,
      // Only the push worker's own steps: a dead letter names the job it replays as.
      replay: (dead) =>
        PUSH_STEPS.includes(dead.name as PushStep) ? { queue: queues.push!.queue, name: dead.name!, options: pushJobOptions(dead.name as PushStep, pushConfig) } : undefined,
    },
  };
  const target = (queue: DlqQueue | undefined): DeadLetters => {
    const t = targets[queue ?? 'delivery'];
    if (!t) throw new AppError('NOT_FOUND', `no ${queue} dead-letter queue on this node`);
    return t;
  };

  /**
   * The dead letter `jobId` waiting in its queue, or NOT_FOUND. Only a waiting job: getJob alone
   * reads any hash under the queue's keyspace (`meta`, `events`, …) as a job, and replaying or
   * deleting one would then delete it (§7).
   */
  async function deadLetterOf(t: DeadLetters, jobId: string): Promise<Job<Partial<PushDeadLetter>>> {
    const state = await fromRedis(t.deadLetter.getJobState(jobId));
    const job = state === 'waiting' ? ((await fromRedis(t.deadLetter.getJob(jobId))) as Job<Partial<PushDeadLetter>> | undefined) : undefined;
    if (!job || typeof job.data?.data !== 'object' || job.data.data === null) throw new AppError('NOT_FOUND', 'dead-letter job not found');
    return job;
  }

  /** Removes a dead letter; one removed concurrently (a repeated retry or delete) is fine. */
  async function remove(t: DeadLetters, job: Job, jobId: string): Promise<void> {
    await fromRedis(
      job.remove().catch(async (err: unknown) => {
        if (await t.deadLetter.getJob(jobId)) throw err;
      }),
    );
  }

  router.use('/admin', requireAdmin);

  router.get('/admin/dlq', async (req, res) => {
    const q = parse(DlqQuerySchema, req.query, 'query');
    const { deadLetter } = target(q.queue);
    const limit = q.limit ?? LIMITS.pageDefault;
    const offset = q.offset ?? 0;
    const [jobs, total] = await fromRedis(Promise.all([deadLetter.getJobs(['waiting'], offset, offset + limit - 1, true) as Promise<Job<DeadLetter>[]>, deadLetter.getWaitingCount()]));
    const body: z.infer<typeof DlqResponseSchema> = { jobs: jobs.filter(Boolean).map((j) => toDlqJob(j, q.queue ?? 'delivery')), total };
    res.set('Cache-Control', 'no-store').json(body);
  });

  // The replay gets a new job id derived from the dead letter's (unique per dead-lettering):
  // the original job may still sit in its queue's failed set, where adding it again would be a
  // no-op, and a repeated or concurrent retry of the same dead letter adds nothing twice. The
  // dead letter is removed only after the replay is enqueued.
  router.post('/admin/dlq/:jobId/retry', async (req, res) => {
    const { jobId } = parse(DlqParamsSchema, req.params, 'params');
    const t = target(parse(DlqTargetQuerySchema, req.query, 'query').queue);
    const job = await deadLetterOf(t, jobId);
    const replay = t.replay(job.data);
    if (!replay) throw new AppError('NOT_FOUND', 'dead-letter job not found');
    const replayedAs = `replay-${jobId}`;
    await fromRedis(replay.queue.add(replay.name, job.data.data, { ...replay.options, jobId: replayedAs }));
    await remove(t, job, jobId);
    const body: z.infer<typeof DlqRetryResponseSchema> = { jobId, replayedAs };
    res.json(body);
  });

  // Gives up on a dead letter for good (the operator has dealt with it, or it is poison).
  router.delete('/admin/dlq/:jobId', async (req, res) => {
    const { jobId } = parse(DlqParamsSchema, req.params, 'params');
    const t = target(parse(DlqTargetQuerySchema, req.query, 'query').queue);
    await remove(t, await deadLetterOf(t, jobId), jobId);
    res.status(204).end();
  });

  return router;
}
