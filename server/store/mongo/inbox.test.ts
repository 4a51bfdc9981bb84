// Regression (#14 item 6): an inbox page ran 2 queries per row all at once, so a page of 200
// took 400 connections' worth of queries against a pool of 100.
import { describe, expect, it } from 'vitest';
import { mapLimit } from './inbox.js';

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight and returns results in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const run = mapLimit(Array.from({ length: 40 }, (_, i) => i), 16, async (i) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise<void>((resolve) => release.push(resolve));
      inFlight--;
      return i * 2;
    });
    // Release calls one by one as they arrive until all 40 have run.
    for (let done = 0; done < 40; done++) {
      while (release.length === 0) await Promise.resolve();
      release.shift()!();
      await Promise.resolve();
    }
    expect(await run).toEqual(Array.from({ length: 40 }, (_, i) => i * 2));
    expect(peak).toBe(16);
  });
});
