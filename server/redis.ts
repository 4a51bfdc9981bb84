// The node's Redis connections, each with the options its user needs, and the start-up checks:
// wait until the command connection is ready, then check the eviction policy BullMQ relies on.
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import { DependencyUnavailableError } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

const READY_TIMEOUT_MS = 10_000; // start-up gives up on an unreachable Redis after this

export interface RedisClients {
  /** Commands that must fail fast when Redis is down (sends answer UNAVAILABLE, nothing waits). */
  cmd: Redis;
  /** The Socket.IO adapter's publisher (and the worker-only node's emitter). */
  pub: Redis;
  /** The Socket.IO adapter's subscriber. */
  sub: Redis;
  /** BullMQ worker connection (blocking commands, retries forever); only on nodes that run workers. */
  worker?: Redis;
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

  function connect(name: string, extra: RedisOptions = {}): Redis {
    const client = new Redis(config.redis.url, {
      connectionName: `${config.nodeId}:${name}`,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      ...extra,
    });
    client.on('error', (err: Error) => {
      // One line per client per outage, not one per retry.
      if (!erroring.has(name)) log.warn({ client: name, err: err.message }, 'redis error');
      erroring.add(name);
      if (name.startsWith('adapter')) metrics.adapterErrors.inc();
    });
    client.on('ready', () => erroring.delete(name));
    return client;
  }

  const cmd = connect('cmd', { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2_000 });
  // Auto-pipelining: the PUBLISHes of one tick (a delivery job's batch of messages, a burst of
  // receipts) leave in one write. Only here: every command on this connection is independent.
  const pub = connect('adapter-pub', { enableAutoPipelining: true });
  // No ready check on the subscriber: the adapter subscribes as soon as it is built, and a
  // SUBSCRIBE that lands while ioredis's handshake (CLIENT SETINFO, INFO) is still pending puts
  // the connection in subscriber mode, fails the INFO and loses the subscriptions for good —
  // about one node start in ten then never received other nodes' broadcasts (found by the
  // load generator: exactly the members on the other node missed every message).
  const sub = connect('adapter-sub', { enableReadyCheck: false });
  const worker = opts.withWorker ? connect('worker', { maxRetriesPerRequest: null }) : undefined;

  async function checkEvictionPolicy(): Promise<void> {
    const reply = (await cmd.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      const msg = `Redis maxmemory-policy is ${policy}; BullMQ needs noeviction or jobs may be lost`;
      if (config.redis.requireNoEviction) throw new Error(msg);
      log.warn(msg);
    }
  }

  return {
    cmd,
    pub,
    sub,
    ...(worker ? { worker } : {}),
    async ready() {
      // The command connection has no offline queue: wait until it is connected.
      if (cmd.status !== 'ready') {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new DependencyUnavailableError('redis', `Redis at ${config.redis.url} is not reachable`)),
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
      await Promise.all([cmd, pub, sub, worker].map((c) => c?.quit().catch(() => c.disconnect())));
    },
  };
}
