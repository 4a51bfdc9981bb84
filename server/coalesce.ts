// Coalescing of concurrent calls into batches without a timer: an item submitted while fewer
// than `maxInFlight` batches are running goes out at once (no added latency when idle); items
// submitted while all slots are busy wait and leave together in the next batch (group commit).
// Used for appends (one multi-row INSERT).

export interface CoalescerOptions {
  /** Most items in one batch. */
  maxBatch: number;
  /** Batches running at once. */
  maxInFlight: number;
  /**
   * A batch is cut at most once per this many ms while items keep coming (0 = never wait):
   * after a quiet spell an item still goes out at once, but under a steady stream items
   * gather for up to this long, so batches grow with the rate and not only at saturation.
   */
  lingerMs?: number;
  /**
   * Callers resumed per turn of the event loop when a batch's results arrive (unset: all at
   * once). What a caller does next (a socket write, say) then runs for one slice of the batch at
   * a time, so a batch of hundreds cannot hold the loop, its timers and accepts, for that long.
   */
  resumeChunk?: number;
}

/**
 * resumeChunk of the reads a reconnect storm's callers answer a socket from: each resumed
 * caller writes a frame (an ack, a CONNECT), some tens of microseconds of syscall each here.
 */
export const SOCKET_RESUME_CHUNK = 50;

interface Pending<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

/**
 * `flush` receives a batch and returns one result per item, in order, or throws to fail the
 * whole batch. `onBatchError`, when given, may settle the items another way (e.g. one by one).
 *
 * @example
 * const append = createCoalescer((inputs) => store.appendMessages(inputs), { maxBatch: 100, maxInFlight: 4 });
 * const result = await append.submit(input);
 */
export function createCoalescer<I, O>(
  flush: (items: I[]) => Promise<O[]>,
  opts: CoalescerOptions & { onBatchError?: (items: I[], err: unknown) => Promise<PromiseSettledResult<O>[]> },
) {
  const queue: Pending<I, O>[] = [];
  let inFlight = 0;
  let idle: { promise: Promise<void>; resolve: () => void } | undefined;

  async function run(batch: Pending<I, O>[]): Promise<void> {
    const items = batch.map((p) => p.item);
    try {
      const results = await flush(items);
      if (results.length !== batch.length) throw new Error(`batch returned ${results.length} results for ${batch.length} items`);
      // The slot stays taken until the last slice has resumed: freeing it as soon as the results
      // are in was tried (BENCHMARKS.md, storm, sixth session) and let more handshakes start
      // before the ones under way had finished, which pushed them all out.
      const chunk = opts.resumeChunk ?? batch.length;
      for (let from = 0; from < batch.length; from += chunk) {
        if (from > 0) await new Promise(setImmediate);
        for (let i = from; i < Math.min(batch.length, from + chunk); i++) batch[i]!.resolve(results[i]!);
      }
    } catch (err) {
      if (!opts.onBatchError) {
        batch.forEach((p) => p.reject(err));
      } else {
        const settled = await opts.onBatchError(items, err).catch((e: unknown) => items.map((): PromiseSettledResult<O> => ({ status: 'rejected', reason: e })));
        batch.forEach((p, i) => {
          const s = settled[i];
          if (s?.status === 'fulfilled') p.resolve(s.value);
          else p.reject(s ? s.reason : err);
        });
      }
    }
  }

  const lingerMs = opts.lingerMs ?? 0;
  let lastCut = 0;
  let lingering: NodeJS.Timeout | undefined;

  function pump(): void {
    while (queue.length > 0 && inFlight < opts.maxInFlight) {
      const wait = lastCut + lingerMs - Date.now();
      if (wait > 0 && queue.length < opts.maxBatch) {
        lingering ??= setTimeout(() => {
          lingering = undefined;
          pump();
        }, wait);
        return;
      }
      lastCut = Date.now();
      const batch = queue.splice(0, opts.maxBatch);
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
        if (queue.length > 0) pump();
        else if (inFlight === 0 && idle) {
          idle.resolve();
          idle = undefined;
        }
      });
    }
  }

  // Items submitted in the same microtask checkpoint (e.g. sends whose store lookups resolved
  // in one I/O callback) are collected before a batch is cut.
  let scheduled = false;
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      pump();
    });
  }

  return {
    submit(item: I): Promise<O> {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      });
    },
    /** Resolves when nothing is queued or running (shutdown). */
    drain(): Promise<void> {
      if (queue.length === 0 && inFlight === 0) return Promise.resolve();
      if (!idle) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        idle = { promise, resolve };
      }
      return idle.promise;
    },
  };
}

export type Coalescer<I, O> = ReturnType<typeof createCoalescer<I, O>>;
