// What the client library's integration tests share: everything they start, closed after the
// file (clients first, so no reconnection races the clusters' shutdown).
import type { Server } from 'node:net';
import { afterAll } from 'vitest';
import type { RelaygateClient } from '../../../client/src/index.js';
import type { Cluster } from './cluster.js';
import type { PrivateRedis } from './redis-server.js';

export function clientLibResources() {
  const r = { clusters: [] as Cluster[], clients: [] as RelaygateClient[], servers: [] as Server[], redises: [] as PrivateRedis[] };
  afterAll(async () => {
    for (const c of r.clients) c.close();
    for (const s of r.servers) s.close();
    await Promise.all(r.clusters.map((c) => c.close()));
    await Promise.all(r.redises.map((x) => x.remove().catch(() => {})));
  });
  return r;
}
