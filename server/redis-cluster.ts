// What a Redis Cluster looks like from this node, for /readyz and the metrics: whether the
// cluster serves every slot (`cluster_state:ok`), and each node's role and health as the
// cluster itself sees it (CLUSTER NODES flags), so an operator reads which node is down and
// whether its replica has taken over, instead of only "redis unavailable".
import client from 'prom-client';
import type { Cluster } from 'ioredis';
import type { Metrics } from './metrics.js';

export interface ClusterNode {
  /** host:port as the cluster announces it. */
  address: string;
  role: 'master' | 'replica';
  /** false once the cluster flags it `fail` (or this node's view `fail?`). */
  up: boolean;
}

export interface ClusterView {
  /** Every slot is served (no master down without a replica promoted yet). */
  ok: boolean;
  nodes: ClusterNode[];
}

/** Parses CLUSTER NODES: `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slots...>`. */
export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((f) => f.length >= 8)
    .map((f) => {
      const flags = f[2]!.split(',');
      return {
        address: f[1]!.split('@')[0]!,
        role: flags.includes('master') ? ('master' as const) : ('replica' as const),
        up: !flags.includes('fail') && !flags.includes('fail?') && f[7] === 'connected',
      };
    });
}

/** Asks the nodes this client knows, one after another, until one answers. */
export async function clusterView(cluster: Cluster): Promise<ClusterView> {
  let lastErr: unknown = new Error('no cluster node known');
  for (const node of cluster.nodes()) {
    if (node.status !== 'ready') continue;
    try {
      const [info, nodes] = await Promise.all([node.cluster('INFO'), node.cluster('NODES')]);
      return { ok: /cluster_state:ok/.test(String(info)), nodes: parseClusterNodes(String(nodes)) };
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

/** /readyz on a cluster: every slot served and every master this client routes to answers. */
export async function checkCluster(cluster: Cluster): Promise<void> {
  const view = await clusterView(cluster);
  const down = view.nodes.filter((n) => !n.up).map((n) => `${n.role} ${n.address}`);
  if (!view.ok) throw new Error(`cluster_state is fail${down.length ? ` (down: ${down.join(', ')})` : ''}`);
  await Promise.all(cluster.nodes('master').map((n) => n.ping()));
}

/**
 * redis_cluster_state_ok and redis_cluster_node_up{node,role}, read on each scrape. A failover
 * shows as the old master at 0 and its replica turning up with role="master"; state_ok is 0
 * between the master's failure and the promotion.
 */
export function registerClusterMetrics(metrics: Metrics, cluster: Cluster): void {
  const nodeUp = new client.Gauge({
    name: 'redis_cluster_node_up',
    help: 'Redis Cluster nodes as the cluster sees them: 1 up, 0 failed; by address and role',
    labelNames: ['node', 'role'] as const,
    registers: [metrics.registry],
  });
  new client.Gauge({
    name: 'redis_cluster_state_ok',
    help: '1 when the Redis Cluster serves every slot, 0 during an outage or failover, -1 when no node answered',
    registers: [metrics.registry],
    async collect() {
      nodeUp.reset();
      try {
        const view = await clusterView(cluster);
        for (const n of view.nodes) nodeUp.set({ node: n.address, role: n.role }, n.up ? 1 : 0);
        this.set(view.ok ? 1 : 0);
      } catch {
        this.set(-1);
      }
    },
  });
}
