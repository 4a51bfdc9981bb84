// Reading the delivery queue's state from Redis, for fault tests that must prove jobs were still
// unfinished when a process died (otherwise a kill test could pass without exercising recovery).
import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DELIVERY_QUEUE } from '../../delivery/queue.js';

export interface JobCounts {
  waiting: number;
  active: number;
  delayed: number;
  prioritized: number;
  completed: number;
  failed: number;
}

/** A BullMQ view of one cluster's delivery queue; close it when done. */
export function deliveryQueue(redisUrl: string, prefix: string) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(DELIVERY_QUEUE, { connection, prefix });
  return {
    counts: () => queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed') as Promise<unknown> as Promise<JobCounts>,
    activeIds: async () => (await queue.getJobs(['active'])).map((j) => j.id!),
    state: (jobId: string) => queue.getJobState(jobId),
    async close() {
      await queue.close();
      await connection.quit();
    },
  };
}

/**
 * Freezes a worker process (SIGSTOP) at a moment when it holds active jobs, so a SIGKILL that
 * follows kills it with jobs in flight. If it holds none, it is let run a little and tried again.
 * Resolves with the counts seen while it was frozen, and the ids of the jobs it held.
 */
export async function freezeWithActiveJobs(
  proc: ChildProcess,
  queue: ReturnType<typeof deliveryQueue>,
  tries = 50,
): Promise<JobCounts & { activeIds: string[] }> {
  for (let i = 0; i < tries; i++) {
    proc.kill('SIGSTOP');
    const counts = await queue.counts();
    if (counts.active > 0) return { ...counts, activeIds: await queue.activeIds() };
    proc.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, 5)); // let it take the next job; then look again
  }
  throw new Error('the worker never held an active job');
}
