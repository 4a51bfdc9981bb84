// The /readyz decision on the `hello` answers a real replica set gives (#14 item 5). jongodb has
// no `lastWrite`, and neither it nor a single-member set can lag, so the documents are built here
// in the shape MongoDB 7/8 sends them (dates as BSON dates, i.e. Date).
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../store.js';
import { assertMajorityKeepsUp, majorityLagMs } from './readiness.js';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const primary = (last: number, majority: number) => ({
  setName: 'rs0',
  isWritablePrimary: true,
  lastWrite: { opTime: { ts: 1, t: 1 }, lastWriteDate: at(last), majorityOpTime: { ts: 1, t: 1 }, majorityWriteDate: at(majority) },
});

describe('majority lag for /readyz', () => {
  it('is the primary’s newest write minus the newest the majority has, from one clock', () => {
    expect(majorityLagMs(primary(10_000, 10_000))).toBe(0);
    expect(majorityLagMs(primary(10_000, 6_500))).toBe(3_500);
    expect(majorityLagMs(primary(10_000, 10_200))).toBe(0);
  });

  it('is unknown, and ready, without a replica set (standalone mongod, jongodb)', () => {
    expect(majorityLagMs({ isWritablePrimary: true } as object)).toBeNull();
    expect(majorityLagMs({ setName: 'rs0' })).toBeNull();
    expect(() => assertMajorityKeepsUp({}, 0)).not.toThrow();
  });

  it('a majority within the limit is ready; beyond it, UNAVAILABLE with the fixed reason and no host or set text', () => {
    expect(() => assertMajorityKeepsUp(primary(10_000, 8_000), 2_500)).not.toThrow();
    let caught: unknown;
    try {
      assertMajorityKeepsUp(primary(10_000, 6_000), 2_500);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StoreUnavailableError);
    expect((caught as StoreUnavailableError).reason).toBe('majority-lag');
    expect((caught as Error).message).toMatch(/4000 ms behind/);
  });
});
