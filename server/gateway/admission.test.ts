// The per-socket admission of gateway/register.ts on its own: the token bucket refuses, the
// bound on handlers in flight queues (never refuses), in arrival order.
import { describe, expect, it } from 'vitest';
import { createAdmission } from './register.js';

const budget = { perSecond: 10, burst: 5, maxInFlight: 2, disconnectAfterMs: 10_000 };

describe('createAdmission', () => {
  it('runs at most maxInFlight at once; the rest wait and start in arrival order as slots free', async () => {
    const admit = createAdmission(budget, () => {}, () => 0);
    const started: number[] = [];
    const take = async (i: number) => {
      expect(admit()).toBeUndefined();
      const turn = admit.acquire();
      if (turn) await turn;
      started.push(i);
    };
    const all = [0, 1, 2, 3].map(take);
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(admit.inFlight()).toBe(2);
    expect(admit.waiting()).toBe(2);
    admit.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    admit.release();
    await Promise.all(all);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(admit.inFlight()).toBe(2);
    admit.release();
    admit.release();
    expect(admit.inFlight()).toBe(0);
  });

  it('refuses beyond the token bucket (burst, then the rate), with a retry hint', () => {
    let t = 0;
    const admit = createAdmission(budget, () => {}, () => t);
    for (let i = 0; i < 5; i++) expect(admit()).toBeUndefined();
    expect(admit()).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 100 });
    t += 100; // one token back at 10/s
    expect(admit()).toBeUndefined();
    expect(admit()).toMatchObject({ code: 'RATE_LIMITED' });
  });
});
