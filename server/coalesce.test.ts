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
});
