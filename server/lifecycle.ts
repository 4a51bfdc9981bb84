// Ordered, idempotent shutdown with a hard deadline, and tracking of in-flight work so acks
// that are being computed when a node is told to stop still get sent.
import type { Logger } from './logger.js';

export function createLifecycle(opts: { logger: Logger; timeoutMs: number }) {
  const log = opts.logger.child({ module: 'lifecycle' });
  const steps: { name: string; run: () => Promise<void> }[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let shuttingDown = false;
  let closing: Promise<void> | undefined;

  async function runSteps(reason: string): Promise<void> {
    log.info({ reason }, 'shutting down');
    for (const step of steps) {
      const started = Date.now();
      try {
        await step.run();
      } catch (err) {
        log.warn({ step: step.name, err: err instanceof Error ? err.message : String(err) }, 'shutdown step failed');
      }
      log.debug({ step: step.name, ms: Date.now() - started }, 'shutdown step done');
    }
  }

  return {
    add(name: string, run: () => Promise<void>) {
      steps.push({ name, run });
    },
    /** Registers work that shutdown should wait for (an event whose ack is pending). */
    track<T>(work: Promise<T>): Promise<T> {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work)).catch(() => {});
      return work;
    },
    async drainTracked(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    isShuttingDown: () => shuttingDown,
    /** Resolves when every step ran or the deadline passed (then it rejects). */
    shutdown(reason = 'shutdown'): Promise<void> {
      shuttingDown = true;
      closing ??= new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`shutdown exceeded ${opts.timeoutMs} ms`)), opts.timeoutMs);
        deadline.unref();
        runSteps(reason).then(
          () => {
            clearTimeout(deadline);
            resolve();
          },
          (err: unknown) => {
            clearTimeout(deadline);
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      });
      return closing;
    },
  };
}
