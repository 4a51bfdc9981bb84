import { describe, expect, it } from 'vitest';
import { createCoalescer } from './coalesce.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('createCoalescer', () => {
  it('sends at once when a slot is free and batches what arrives while all slots are busy', async () => {
    const batches: number[][] = [];
    const release: (() => void)[] = [];
    const c = createCoalescer(
      async (items: number[]) => {
        batches.push(items);
        await new Promise<void>((r) => release.push(r));
        return items.map((i) => i * 10);
      },
      { maxBatch: 3, maxInFlight: 1 },
    );
    const first = c.submit(1);
    await tick();
    const rest = [2, 3, 4, 5].map((i) => c.submit(i));
    await tick();
    expect(batches).toEqual([[1]]);
    release.shift()!();
    expect(await first).toBe(10);
    await tick();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    release.shift()!();
    await tick();
    release.shift()!();
    expect(await Promise.all(rest)).toEqual([20, 30, 40, 50]);
    expect(batches).toEqual([[1], [2, 3, 4], [5]]);
    await c.drain();
  });

  it('resumes the callers of a large batch a chunk per turn of the event loop, each with its own result', async () => {
    const c = createCoalescer(async (items: number[]) => items.map((i) => i * 10), { maxBatch: 100, maxInFlight: 1, resumeChunk: 3 });
    // Turns of the event loop, counted by a chain of immediates started with the batch.
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const resumedAt: number[] = [];
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => c.submit(i).then((v) => (resumedAt[i] = turns, v))));
    counting = false;
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    // Callers 0–2 together, then 3–5, 6–8 and 9, each slice at least one turn after the previous.
    expect(new Set(resumedAt.slice(0, 3)).size).toBe(1);
    expect(new Set(resumedAt.slice(3, 6)).size).toBe(1);
    for (const [a, b] of [[2, 3], [5, 6], [8, 9]] as const) expect(resumedAt[b]!).toBeGreaterThan(resumedAt[a]!);
  });

  it('collects items submitted in the same tick into one batch', async () => {
    const batches: number[][] = [];
    const c = createCoalescer(async (items: number[]) => (batches.push(items), items), { maxBatch: 10, maxInFlight: 2 });
    await Promise.all([1, 2, 3].map((i) => c.submit(i)));
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('lets a failed batch be settled item by item', async () => {
    const c = createCoalescer(
      async (items: number[]) => {
        if (items.length > 1) throw new Error('batch failed');
        return items;
      },
      {
        maxBatch: 10,
        maxInFlight: 1,
        onBatchError: (items) => Promise.allSettled(items.map(async (i) => (i === 2 ? Promise.reject(new Error('bad 2')) : i))),
      },
    );
    const results = await Promise.allSettled([1, 2, 3].map((i) => c.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('with a linger, items arriving within it of the last cut leave together; after a quiet spell an item goes at once', async () => {
    const batches: number[][] = [];
    const c = createCoalescer(async (items: number[]) => (batches.push(items), items), { maxBatch: 10, maxInFlight: 4, lingerMs: 500 });
    const started = Date.now();
    await c.submit(1); // quiet before: out at once
    expect(Date.now() - started).toBeLessThan(300);
    const next = [2, 3, 4].map((i) => c.submit(i)); // within the linger: wait for it, together
    await Promise.all(next);
    expect(batches).toEqual([[1], [2, 3, 4]]);
    await new Promise((r) => setTimeout(r, 600)); // quiet spell longer than the linger (timing, not synchronisation)
    const quiet = Date.now();
    await c.submit(5);
    expect(Date.now() - quiet).toBeLessThan(300);
    expect(batches).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('with a linger, a full batch does not wait', async () => {
    const batches: number[][] = [];
    const c = createCoalescer(async (items: number[]) => (batches.push(items), items), { maxBatch: 2, maxInFlight: 4, lingerMs: 10_000 });
    await c.submit(0);
    const started = Date.now();
    await Promise.all([1, 2].map((i) => c.submit(i)));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(batches).toEqual([[0], [1, 2]]);
  });
});
