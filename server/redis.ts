// The node's Redis connections, each with the options its user needs, and the start-up checks:
// wait until the command connection is ready, then check the eviction policy BullMQ relies on.
// REDIS_MODE=cluster makes each of them an ioredis Cluster client over the seed nodes (§8).
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { redactUrls, type Config } from './config.js';
import { DependencyUnavailableError } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

const READY_TIMEOUT_MS = 10_000; // start-up gives up on an unreachable Redis after this

/** One Redis or a Redis Cluster: both take the same commands (keys of one call in one slot). */
export type RedisClient = Redis | Cluster;

export interface RedisClients {
  /** Commands that must fail fast when Redis is down (sends answer UNAVAILABLE, nothing waits). */
  cmd: RedisClient;
  /** The Socket.IO adapter's publisher (and the worker-only node's emitter). */
  pub: RedisClient;
  /** The Socket.IO adapter's subscriber. */
  sub: RedisClient;
  /**
   * Where BullMQ's queues are opened: `pub` on one Redis, `cmd` on a cluster. A Queue defines
   * BullMQ's 64 scripts on its connection, and ioredis copies them onto every pipeline built there
   * (~85 µs each, against ~1 µs without): `pub` is corked instead of pipelined, so keeping the
   * scripts off `cmd` keeps its per-tick auto-pipelines and the limiter's lease batches cheap.
   */
  queues: RedisClient;
  /** BullMQ worker connection (blocking commands, retries forever); only on nodes that run workers. */
  worker?: RedisClient;
  /** Resolves once every publish made on `pub` so far has been run by Redis (every node's). */
  flushed(): Promise<void>;
  /** Resolves once the command connection answers and the eviction policy was checked. */
  ready(): Promise<void>;
  quit(): Promise<void>;
}

export function createRedisClients(opts: {
  config: Pick<Config, 'nodeId' | 'redis'>;
  logger: Logger;
  metrics: Metrics;
  withWorker: boolean;
}): RedisClients {
  const { config, metrics } = opts;
  const log = opts.logger.child({ module: 'redis' });
  const erroring = new Set<string>();

  const cluster = config.redis.mode === 'cluster';
  function connect(name: string, extra: RedisOptions = {}): RedisClient {
    const options: RedisOptions = { connectionName: `${config.nodeId}:${name}`, retryStrategy: (times) => Math.min(times * 200, 2_000), ...extra };
    const client = cluster ? clusterClient(config.redis.nodes, name, options) : new Redis(config.redis.url, options);
    client.on('error', (err: Error) => {
      // One line per client per outage, not one per retry.
      if (!erroring.has(name)) log.warn({ client: name, err: err.message }, 'redis error');
      erroring.add(name);
      if (name.startsWith('adapter')) metrics.adapterErrors.inc();
    });
    client.on('ready', () => erroring.delete(name));
    return client;
  }

  // The commands of one tick leave in one write (on one Redis a claiming node's delivery jobs
  // ride `pub`, on a cluster `cmd`: their add and fetch then share a write, see app.ts; on `pub`
  // the PUBLISHes of a job's batch or of a burst of receipts do). `cmd` auto-pipelines: one
  // buffer per tick, cheapest for its bursts (a storm's leases and presence writes). On one
  // Redis `pub` is corked for the tick instead (writesPerTick): it carries BullMQ's 64 scripts,
  // which ioredis copies onto every auto-pipeline it builds (~70 µs a tick, two or three ticks a
  // job). A Cluster needs the auto-pipeline's grouping by node.
  const cmd = connect('cmd', { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2_000, enableAutoPipelining: true });
  const pub = cluster ? connect('adapter-pub', { enableAutoPipelining: true }) : writesPerTick(connect('adapter-pub') as Redis);
  // No ready check on the subscriber: the adapter subscribes as soon as it is built, and a
  // SUBSCRIBE that lands while ioredis's handshake (CLIENT SETINFO, INFO) is still pending puts
  // the connection in subscriber mode, fails the INFO and loses the subscriptions for good —
  // about one node start in ten then never received other nodes' broadcasts (found by the
  // load generator: exactly the members on the other node missed every message).
  const sub = connect('adapter-sub', { enableReadyCheck: false });
  const worker = opts.withWorker ? connect('worker', { maxRetriesPerRequest: null }) : undefined;

  async function checkEvictionPolicy(): Promise<void> {
    // On a cluster every master holds queue keys: each must refuse to evict.
    const nodes = cmd instanceof Cluster ? cmd.nodes('master') : [cmd];
    const replies = (await Promise.all(nodes.map((n) => n.config('GET', 'maxmemory-policy')))) as string[][];
    const policy = replies.map((r) => r[1]).find((p) => p && p !== 'noeviction');
    if (policy) {
      const msg = `Redis maxmemory-policy is ${policy}; BullMQ needs noeviction or jobs may be lost`;
      if (config.redis.requireNoEviction) throw new Error(msg);
      log.warn(msg);
    }
  }

  return {
    cmd,
    pub,
    sub,
    queues: cluster ? cmd : pub,
    ...(worker ? { worker } : {}),
    async flushed() {
      if (!(pub instanceof Cluster)) {
        await pub.ping();
        return;
      }
      // Auto-pipelined commands leave on the next tick; then a PING on each master's
      // connection answers only after the SPUBLISHes queued on it ran.
      await new Promise((r) => setImmediate(r));
      await Promise.all(pub.nodes('master').map((n) => n.ping()));
    },
    async ready() {
      // The command connection has no offline queue: wait until it is connected.
      if (cmd.status !== 'ready') {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new DependencyUnavailableError('redis', `Redis at ${redactUrls(config.redis.url)} is not reachable`)),
            READY_TIMEOUT_MS,
          );
          cmd.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      await cmd.ping();
      await checkEvictionPolicy();
    },
    async quit() {
      // QUIT is never auto-pipelined: sent at once, it would overtake the commands still queued
      // for this tick's pipeline (a last presence PUBLISH), failing them with "Connection is
      // closed". A turn of the event loop lets those pipelines go out first.
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.all([cmd, pub, sub, worker].map((c) => c?.quit().catch(() => c.disconnect())));
    },
  };
}

/**
 * Every write ioredis makes on `client`'s socket within one tick leaves in one `writev`, in
 * order: the socket is corked at the tick's first write and uncorked when the tick's microtasks
 * have run (as ioredis's auto-pipelining flushes), on every connection ioredis opens.
 */
export function writesPerTick(client: Redis): Redis {
  client.on('connect', () => {
    const socket = (client as unknown as { stream?: NodeJS.WritableStream & { cork(): void; uncork(): void; writableCorked: number } }).stream;
    if (!socket || (socket as { perTick?: true }).perTick) return;
    (socket as { perTick?: true }).perTick = true;
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    const uncork = () => socket.uncork();
    socket.write = ((...args: unknown[]) => {
      if (!socket.writableCorked) {
        socket.cork();
        process.nextTick(uncork);
      }
      return write(...args);
    }) as typeof socket.write;
  });
  return client;
}

/**
 * A cluster client carrying the single-node options where the Cluster takes them: offline queue,
 * ready check and auto-pipelining on the cluster, the rest per node. The subscriber gets one
 * sharded-subscriber connection per master (SSUBSCRIBE must reach the channel's slot owner).
 */
function clusterClient(seeds: string[], name: string, o: RedisOptions): Cluster {
  const { enableOfflineQueue, enableReadyCheck, enableAutoPipelining, retryStrategy, ...perNode } = o;
  const nodes = seeds.map((u) => {
    const url = new URL(u);
    return { host: url.hostname, port: Number(url.port || 6379) };
  });
  const first = new URL(seeds[0]!);
  return new Cluster(nodes, {
    redisOptions: {
      ...perNode,
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(enableReadyCheck === undefined ? {} : { enableReadyCheck }),
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    clusterRetryStrategy: (times) => (retryStrategy ? (retryStrategy(times) as number) : Math.min(times * 200, 2_000)),
    // A failed master's slots move to its replica: re-ask the topology soon, retry the command.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: 2_000,
    shardedSubscribers: name === 'adapter-sub',
  });
}
