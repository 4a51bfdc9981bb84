// The claiming consumer: on a node that both enqueues and delivers (ROLE=all), the node takes
// the job it just enqueued itself, at once, instead of waiting for BullMQ's blocking loop to be
// woken. Same queue, same job, same lock, same retries and dead-lettering: only who asks for the
// job and when changes. A blocking worker pays per job a BZPOPMIN wake, a `moveToActive`, and
// then (BullMQ re-adds the queue's marker on every fetch) a second wake and an empty
// `moveToActive`; on a sparse queue each is a cold round trip. Here a job costs one
// `moveToActive` and one `moveToFinished`, which also fetches the next waiting job, so a burst
// drains without any fetch of its own.
//
// Jobs this node did not enqueue (another node's, retries whose back-off expired, stalled jobs
// moved back to wait) are found by a non-blocking fetch every `pollMs`; BullMQ's stalled check
// runs as it does for a blocking worker, so a dead node's active jobs are re-run all the same.
import { Job, type Worker } from 'bullmq';

export interface ClaimingConsumerOptions<T> {
  /** A BullMQ worker created with `autorun: false`: its connection, lock and stalled settings are used. */
  worker: Worker<T>;
  /** Runs one job; throws to fail it (BullMQ then retries it or it stays failed). */
  process: (job: Job<T>) => Promise<void>;
  /** Jobs run at once. */
  concurrency: number;
  /** Non-blocking fetch period for jobs nobody kicked. */
  pollMs: number;
  /** Lock tokens are `${tokenPrefix}:${n}`: unique per fetch chain. */
  tokenPrefix: string;
  /** A fetch or a completion that Redis refused (a lost lock, Redis down); the job is left to stalled recovery. */
  onError: (err: unknown) => void;
}

export interface ClaimingConsumer {
  /**
   * A job was enqueued (or may be waiting): fetch now if a slot is free, else right after one
   * frees. Given the add still in flight (issued on the same connection, so the fetch runs
   * after it in Redis), a fetch that finds nothing is tried once more after the add settled.
   */
  kick(added?: Promise<unknown>): void;
  /** Stops fetching, waits for the running jobs, stops the stalled check. */
  close(): Promise<void>;
}

export function createClaimingConsumer<T>(opts: ClaimingConsumerOptions<T>): ClaimingConsumer {
  const { worker } = opts;
  let running = 0;
  let owed = false;
  let closing = false;
  let chains = 0;
  let idle: (() => void) | undefined;

  // One chain fetches a job, runs it, and completes it asking for the next, until none waits.
  async function chain(added?: Promise<unknown>): Promise<void> {
    const token = `${opts.tokenPrefix}:${++chains}`;
    let job: Job<T> | undefined = await worker.getNextJob(token, { block: false });
    if (!job && added) {
      await added.catch(() => undefined);
      job = await worker.getNextJob(token, { block: false });
    }
    while (job) {
      let next: unknown;
      try {
        await opts.process(job);
        next = await job.moveToCompleted(undefined as never, token, !closing);
        worker.emit('completed', job, undefined, 'active');
      } catch (err) {
        // Same as BullMQ's own loop: the job goes to delayed (retry) or failed, and listeners of
        // 'failed' (dead-lettering, metrics) see it. The next job is fetched anew below.
        await job.moveToFailed(err instanceof Error ? err : new Error(String(err)), token, false);
        worker.emit('failed', job, err as Error, 'active');
        job = closing ? undefined : await worker.getNextJob(token, { block: false });
        continue;
      }
      job = nextJob(next, token);
    }
  }

  function nextJob(raw: unknown, token: string): Job<T> | undefined {
    if (!Array.isArray(raw) || !raw[0]) return undefined;
    const job = Job.fromJSON<T>(worker as never, raw[0], raw[1] as string);
    job.token = token;
    return job;
  }

  function kick(added?: Promise<unknown>): void {
    if (closing) return;
    if (running >= opts.concurrency) {
      owed = true;
      return;
    }
    running++;
    chain(added)
      .catch(opts.onError)
      .finally(() => {
        running--;
        if (owed && !closing) {
          owed = false;
          kick();
        } else if (running === 0) idle?.();
      });
  }

  const poll = setInterval(() => kick(), opts.pollMs);
  poll.unref();
  void worker.startStalledCheckTimer().catch(opts.onError);

  let closed: Promise<void> | undefined;
  return {
    kick,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(poll);
        if (running > 0) await new Promise<void>((resolve) => (idle = resolve));
      })();
      return closed;
    },
  };
}
