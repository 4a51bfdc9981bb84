// /readyz for the MongoDB store (#14 item 5): the primary answers, and its majority keeps up.
//
// With `w: 'majority'` a send waits for the majority; when the majority lags, sends stall until the
// write-concern deadline and then fail UNAVAILABLE, while a plain `ping` stays green, so the load
// balancer keeps routing clients to a node that cannot store a message. The primary's `hello`
// says how far behind the majority is, at no privilege and no write: `lastWrite.lastWriteDate`
// (its newest oplog entry) against `lastWrite.majorityWriteDate` (the newest the majority has).
// Both come from the primary's own clock, so no skew between nodes enters. An idle primary writes
// a no-op every 10 s, so a majority that stopped confirming shows up within that even with no
// traffic. Not `replSetGetStatus` (needs the clusterMonitor role) and not a majority write per
// probe (a write every few seconds per node, for the same answer).
//
// A standalone server or jongodb (no `lastWrite`, no `setName`) has nothing to lag: ready.
import { StoreUnavailableError } from '../store.js';

/** The part of the `hello` answer the decision reads. */
export interface HelloLastWrite {
  setName?: unknown;
  lastWrite?: { lastWriteDate?: unknown; majorityWriteDate?: unknown };
}

/** How far (ms) the majority is behind the primary's newest write; null when not a replica set. */
export function majorityLagMs(hello: HelloLastWrite): number | null {
  const last = hello.lastWrite?.lastWriteDate;
  const majority = hello.lastWrite?.majorityWriteDate;
  if (typeof hello.setName !== 'string' || !(last instanceof Date) || !(majority instanceof Date)) return null;
  return Math.max(0, last.getTime() - majority.getTime());
}

/**
 * Throws StoreUnavailableError with the fixed reason `majority-lag` (what /readyz reports; the
 * numbers stay in the message, which /readyz does not show) when the majority is more than
 * `maxLagMs` behind.
 */
export function assertMajorityKeepsUp(hello: HelloLastWrite, maxLagMs: number): void {
  const lag = majorityLagMs(hello);
  if (lag === null || lag <= maxLagMs) return;
  const err = new StoreUnavailableError(`mongodb: the majority is ${lag} ms behind the primary (limit ${maxLagMs} ms)`);
  err.reason = 'majority-lag';
  throw err;
}
