// A few seconds of the load generator, as a library, against a two-node test cluster: every
// acked message reaches every member (live or by sync) and history holds each clientMsgId
// once; with edits and reactions in the mix, each of them is acked and reaches the room as
// `message:updated`, and the sends still lose nothing. No timing assertions: this box is shared, and the numbers belong in BENCHMARKS.md.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../server/test/support/cluster.js';
import { runLoad } from './run.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { RATE_LIMIT_SCALE: '100' } });
});
afterAll(() => cluster?.close());

it('a short steady run over two nodes loses nothing and stores nothing twice', async () => {
  const report = await runLoad({
    urls: cluster.nodes.map((n) => n.url),
    jwtSecret: cluster.env.JWT_SECRET!,
    scenario: 'steady',
    users: 24,
    rate: 60,
    duration: 3,
    groupSize: 4,
    channelSize: 12,
    channelPosters: 2,
    receiptSample: 0.5,
    receiptIntervalMs: 500,
    drainMs: 8_000,
    scrapeIntervalMs: 500,
    progress: false,
    hardDeadlineSeconds: 25,
  });
  // Every send the generator made was acked (none refused or timed out), and there were enough
  // of them to mean something: at least one second of the offered 60/s.
  expect(report.sends.attempted).toBeGreaterThanOrEqual(60);
  expect(report.sends.acked).toBe(report.sends.attempted);
  expect(report.sends.unacked).toBe(0);
  expect(report.delivery.expectedPairs).toBeGreaterThan(report.sends.acked);
  expect(report.delivery.lostMessages).toBe(0);
  expect(report.storage.checked).toBe(true);
  expect(report.delivery.lostPairs).toBe(0);
  expect(report.storage.missingAcked).toBe(0);
  expect(report.storage.duplicates).toBe(0);
  expect(report.storage.duplicateIdsLive).toBe(0);
  expect(report.verdict).toEqual({ zeroLoss: true, zeroStoredDuplicates: true });
}, 30_000);

it('a mix with edits and reactions acks every change, counts them apart from sends, and still loses nothing', async () => {
  const report = await runLoad({
    urls: cluster.nodes.map((n) => n.url),
    jwtSecret: cluster.env.JWT_SECRET!,
    scenario: 'steady',
    users: 12,
    mix: 'group=1,edit=20%,react=20%',
    rate: 50,
    duration: 3,
    groupSize: 4,
    receiptSample: 0,
    drainMs: 8_000,
    scrapeIntervalMs: 500,
    progress: false,
    hardDeadlineSeconds: 25,
  });
  const { edit, react } = report.changes;
  // 40 % of ~150 operations are changes: both kinds ran, every try was acked, none failed.
  expect(edit.attempted).toBeGreaterThanOrEqual(10);
  expect(react.attempted).toBeGreaterThanOrEqual(10);
  expect([edit.acked, react.acked]).toEqual([edit.attempted, react.attempted]);
  expect(edit.ack.count).toBe(edit.acked);
  expect(Object.keys(report.errors).filter((k) => /message:(edit|react)/.test(k))).toEqual([]);
  // Sends are the rest of the mix, not the whole rate; changes are not counted as sends.
  const ops = report.sends.attempted + edit.attempted + react.attempted + edit.noTarget + react.noTarget;
  expect(report.sends.attempted / ops).toBeLessThan(0.75);
  expect(report.sends.acked).toBe(report.sends.attempted);
  // Each change goes to the room (4 members, the changer included) live. The drain waits for
  // messages, not for updates, so the last changes' updates may still be on their way: half.
  expect(report.changes.updatesReceived).toBeGreaterThanOrEqual((edit.acked + react.acked) * 2);
  expect(report.cost!.gatewayCpuMsPerAcceptedOp).toBeLessThan(report.cost!.gatewayCpuMsPerAcceptedSend);
  expect(report.verdict).toEqual({ zeroLoss: true, zeroStoredDuplicates: true });
}, 30_000);
