// The storm scenario at small scale, as a smoke test: 50 sockets on node A of two spawned
// nodes, held by two generator processes, node A drained (SIGTERM) or killed (SIGKILL); every
// client must be back on node B and no acknowledged message may be missing after sync, with the
// production rate limits (RATE_LIMIT_SCALE 1, every client from one IP as behind a balancer).
// No timing assertions (shared box).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../server/test/support/cluster.js';
import { runStorm } from './storm.js';

let cluster: Cluster;
beforeAll(async () => {
  // No in-process node: runStorm spawns its own two; the cluster gives the database and prefix.
  cluster = await startCluster({ roles: [], env: { RATE_LIMIT_SCALE: '1' } });
});
afterAll(() => cluster?.close());

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  it(`${signal}: 50 sockets all come back on the other node and lose nothing`, async () => {
    const report = await runStorm({
      sockets: 50,
      signal,
      env: cluster.env,
      jwtSecret: cluster.env.JWT_SECRET!,
      runId: `st${signal === 'SIGTERM' ? 't' : 'k'}${Date.now().toString(36)}`,
      sendRate: 20,
      generators: 2,
      warmup: 20,
      timeoutMs: 30_000,
    });
    expect(report.generators).toBe(2);
    expect(report.back).toBe(50);
    expect(report.connected).toBe(50);
    expect(report.sent).toBeGreaterThan(0);
    expect(report.lost).toBe(0);
    expect(report.handshakeErrors.RATE_LIMITED ?? 0).toBe(0);
  }, 60_000);
}
