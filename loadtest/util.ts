// Small async helpers shared by the load generator's modules.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

/** Polls `cond` every 50 ms until it holds, `timeoutMs` passes or `stop()` says so; returns `cond()`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, stop: () => boolean = () => false): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() >= until || stop()) return cond();
    await sleep(50);
  }
  return true;
}
