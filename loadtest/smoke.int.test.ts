// A few seconds of the load generator, as a library, against a two-node test cluster: every
// acked message reaches every member (live or by sync) and history holds each clientMsgId
// once. No timing assertions: this box is shared, and the numbers belong in BENCHMARKS.md.
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
