// Composition root: createApp(config) builds every component of the configured role in start-up
// order and returns start/shutdown; it never reads the environment (main.ts does) and holds no
// logic of its own. Start: store → Redis → listen. Shutdown: the reverse, step by step below.
import type { Server as HttpServer } from 'node:http';
import type { Message } from '../protocol/index.js';
import { createTokenVerifier, type TokenVerifier } from './auth/jwt.js';
import type { Config } from './config.js';
import { createDeliveryQueue, type DeliveryQueues } from './delivery/queue.js';
import { createDeliveryWorker, type MessageEvent } from './delivery/worker.js';
import { createEmitterPublisher, createShardedEmitterPublisher } from './gateway/emitter.js';
import { createConversationHandlers } from './gateway/conversation.handlers.js';
import { createRealtime } from './gateway/realtime.js';
import { createMessageHandlers } from './gateway/message.handlers.js';
import { createPresenceHandlers, emitPresence } from './gateway/presence.handlers.js';
import type { EventHandlers } from './gateway/register.js';
import { createRelayHandlers } from './gateway/relay.handlers.js';
import { createSocketServer, serveSockets } from './gateway/socket-server.js';
import type { GatewayServer } from './gateway/types.js';
import { createHttpServer, listen, serveHttp, stopAccepting } from './http.js';
import { createLifecycle } from './lifecycle.js';
import { createLimiter } from './limits.js';
import { createLogger, type Logger } from './logger.js';
import { createMessaging, type Limiter, type Messaging } from './messaging/index.js';
import { createMetrics, type Metrics } from './metrics.js';
import { instrumentStore, instrumentWorker, observeEvents, observePush, registerQueueMetrics } from './ops/instrument.js';
import { createPresenceNode } from './presence/presence-node.js';
import { createPresenceStore, type PresenceStore } from './presence/presence-store.js';
import { createMutes } from './push/mutes.js';
import { createPush, openPushQueues } from './push/push.js';
import { createRedisClients, type RedisClients } from './redis.js';
import { checkCluster, registerClusterMetrics } from './redis-cluster.js';
import { Cluster } from 'ioredis';
import { createStore } from './store/index.js';
import type { Store } from './store/store.js';

export interface App {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  store: Store;
  redis: RedisClients;
  httpServer: HttpServer;
  io?: GatewayServer;
  messaging?: Messaging;
  /** Listens on config.port (0 = ephemeral); resolves with the bound port. */
  start(): Promise<{ port: number }>;
  /** Ordered, idempotent shutdown with a hard deadline. */
  shutdown(reason?: string): Promise<void>;
  isReady(): boolean;
}

export interface AppOverrides {
  logger?: Logger;
}

export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const logger = overrides.logger ?? createLogger({ level: config.logLevel, nodeId: config.nodeId });
  const log = logger.child({ module: 'app' });
  const metrics = createMetrics(config.nodeId);
  const runsGateway = config.role !== 'worker';
  const runsWorker = config.role !== 'gateway' && !config.relayMode;
  const prefix = config.redis.prefix;
  const adapterKey = `${prefix}:sio`;
  // On a cluster each BullMQ queue runs multi-key scripts over all its keys: a hash tag keeps
  // them in one slot. Adapter channels and rate-limit keys stay untagged, spread over slots.
  const queuePrefix = config.redis.mode === 'cluster' ? `{${prefix}}` : prefix;
  // A node that both accepts sends and delivers claims the jobs it enqueues (delivery/claim.ts).
  const claims = runsGateway && runsWorker && config.delivery.claimPollMs > 0;
  // On one Redis such a node runs the whole delivery on the adapter's connection (one write per tick, redis.ts):
  // the add and the claim of a job leave in one write, and the job's PUBLISHes and its completion
  // in the next; Redis runs one connection's commands in order, so a job never completes before
  // its emits ran. On a cluster the PUBLISHes go to other masters, so the queue stays on the
  // command connection and a PING behind the PUBLISHes on each master orders them instead.
  const onePipe = claims && config.redis.mode !== 'cluster';

  // 1. Dependencies: Redis connections, the store, the queues.
  const redis = createRedisClients({ config, logger, metrics, withWorker: runsWorker });
  const store = instrumentStore(await createStore(config.store), metrics);
  const verifyToken = createTokenVerifier(config.auth);
  const limiter = createLimiter({ redis: redis.cmd, prefix, scale: config.limits.scale, onReject: (family) => metrics.rateLimited.inc({ family }) });
  const delivery = createDeliveryQueue({ connection: redis.queues, prefix: queuePrefix, attempts: config.delivery.attempts, backoffMs: config.delivery.backoffMs });
  if (redis.cmd instanceof Cluster) registerClusterMetrics(metrics, redis.cmd);
  const cmd = redis.cmd;
  const presence = createPresenceStore({ redis: redis.cmd, prefix, heartbeatMs: config.presence.heartbeatMs });
  const mutes = createMutes(redis.cmd, prefix);
  // Offline push runs beside the delivery workers, which hand it each delivered batch.
  const push =
    config.push && runsWorker && redis.worker
      ? createPush({ connection: redis.cmd, queueConnection: redis.queues, workerConnection: redis.worker, prefix: queuePrefix, config: config.push, store, presence, mutes, logger, observe: observePush(metrics) })
      : undefined;
  // The admin routes reach the push dead letters on every gateway node, push worker or not.
  const pushQueues = push ? undefined : runsGateway ? openPushQueues(redis.queues, queuePrefix) : undefined;
  const pushDepth = push ? [push.queue, push.dlq] : config.push && pushQueues ? [pushQueues.queue, pushQueues.deadLetter] : [];
  registerQueueMetrics(metrics, [...delivery.all, ...pushDepth]);
  const lifecycle = createLifecycle({ logger, timeoutMs: config.shutdownTimeoutMs });

  // 2. Transports: the HTTP server, then (gateway nodes) sockets and the domain, then routes.
  const http = createHttpServer();
  const gateway = runsGateway
    ? createGateway({ config, logger, metrics, redis, store, verifyToken, limiter, delivery, lifecycle, http: http.server, adapterKey, presence })
    : undefined;
  serveHttp(http.app, {
    config,
    logger,
    metrics,
    readiness: {
      isShuttingDown: lifecycle.isShuttingDown,
      checks: [
        { name: 'redis', check: () => (cmd instanceof Cluster ? checkCluster(cmd) : cmd.ping()) },
        { name: 'store', check: () => store.ping() },
      ],
    },
    ...(gateway
      ? {
          api: {
            rest: {
              config,
              logger,
              verifyToken,
              limiter,
              metrics,
              messaging: gateway.messaging,
              queues: {
                delivery: delivery.queue,
                deadLetter: delivery.dlq,
                push: push ? { queue: push.queue, deadLetter: push.dlq } : pushQueues!,
              },
              settings: {
                presence: { isHidden: presence.isHidden, setHidden: gateway.presenceNode?.setHidden ?? presence.setHidden },
                mutes,
              },
            },
            dashboardQueues: delivery.all,
          },
        }
      : {}),
  });

  // 3. Delivery workers: a gateway node emits through its own server, a worker-only node
  // through the adapter's channel (the room's own channel with the sharded adapter).
  const emitter = config.redis.adapter === 'sharded' ? createShardedEmitterPublisher : createEmitterPublisher;
  const publish: (message: Message, event?: MessageEvent) => void = gateway ? gateway.publish : emitter(redis.pub, adapterKey);
  const worker =
    runsWorker && redis.worker
      ? createDeliveryWorker({
          connection: redis.worker,
          prefix: queuePrefix,
          concurrency: config.delivery.concurrency,
          deadLetter: delivery.dlq,
          logger,
          publish,
          // Unless the job completes on the PUBLISHes' own connection, a PING behind them there
          // answers only after Redis ran them: the job completes after its emits, never before.
          ...(onePipe ? {} : { published: () => redis.flushed() }),
          onDelivered: (_m, acceptedAt) => {
            metrics.deliveries.inc();
            metrics.fanoutSeconds.observe((Date.now() - acceptedAt) / 1000);
          },
          onDeadLettered: () => metrics.deadLettered.inc(),
          ...(push ? { afterDelivered: push.delivered } : {}),
          // A worker-only node blocks in BullMQ's loop.
          ...(claims ? { claim: { pollMs: config.delivery.claimPollMs, nodeId: config.nodeId, connection: redis.queues } } : {}),
        })
      : undefined;
  if (worker) delivery.onEnqueued(worker.kick);
  for (const w of worker?.workers ?? []) instrumentWorker(metrics, w);

  // Shutdown order: not ready → stop accepting → tell clients → drain in-flight acks → close
  // sockets → drain workers and pending writes → close queues → quit Redis → close store.
  const io = gateway?.io;
  lifecycle.add('let the load balancer see not ready', async () => {
    // /readyz answers 503 from the first moment; the port stays open this long so a load
    // balancer's health check sees it and stops routing here before connections are refused.
    if (config.shutdownReadyDelayMs > 0 && http.server.listening) await new Promise((r) => setTimeout(r, config.shutdownReadyDelayMs));
  });
  lifecycle.add('stop accepting', () => stopAccepting(http.server));
  lifecycle.add('tell clients to reconnect elsewhere', async () => {
    io?.local.emit('server:draining', { reconnectAfterMs: 1_000 });
  });
  lifecycle.add('drain in-flight events', () => lifecycle.drainTracked());
  lifecycle.add('close sockets', async () => {
    if (!io) return;
    // A connection closes once its buffered packets (the last acks) are written; io.close()
    // would discard them, so it waits for those closes (bounded: a stuck client cannot hold it).
    const closed = [...io.sockets.sockets.values()].map((s) => new Promise((resolve) => s.conn.once('close', resolve)));
    io.local.disconnectSockets(true);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
    clearTimeout(timer);
    await io.close().catch(() => {});
  });
  lifecycle.add('take this node out of presence', async () => {
    await gateway?.presenceNode?.close();
  });
  lifecycle.add('drain workers', async () => {
    await worker?.close();
    await push?.close();
    await gateway?.messaging.watermarks.drain();
  });
  lifecycle.add('close queues', async () => {
    await Promise.all([delivery.close(), pushQueues?.close()]);
  });
  lifecycle.add('quit redis', () => redis.quit());
  lifecycle.add('close store', () => store.close());

  return {
    config,
    logger,
    metrics,
    store,
    redis,
    httpServer: http.server,
    ...(gateway ? { io: gateway.io, messaging: gateway.messaging } : {}),
    isReady: () => !lifecycle.isShuttingDown(),
    async start() {
      await store.init();
      await redis.ready();
      await gateway?.presenceNode?.start();
      const port = await listen(http.server, config.port);
      log.info({ port, role: config.role, store: store.name, relay: config.relayMode }, 'listening');
      return { port };
    },
    shutdown: lifecycle.shutdown,
  };
}

/**
 * The socket side of a gateway node. The server is built first, since the domain's Realtime
 * port broadcasts through its adapter; the handlers exist once the domain does, and only then
 * does the server start serving clients.
 */
function createGateway(deps: {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  redis: RedisClients;
  store: Store;
  verifyToken: TokenVerifier;
  limiter: Limiter;
  delivery: DeliveryQueues;
  lifecycle: ReturnType<typeof createLifecycle>;
  http: HttpServer;
  adapterKey: string;
  presence: PresenceStore;
}) {
  const { config, redis, limiter } = deps;
  const io = createSocketServer({
    httpServer: deps.http,
    pub: redis.pub,
    sub: redis.sub,
    adapterKey: deps.adapterKey,
    adapter: config.redis.adapter,
    corsOrigins: config.http.corsOrigins,
    perMessageDeflate: config.http.perMessageDeflate,
  });
  const realtime = createRealtime(io, {
    link: redis.sub,
    // A node that did not confirm a membership change serves its cached answer until the TTL.
    onBarrierTimeout: (conversationId, err) => {
      deps.metrics.adapterErrors.inc();
      deps.logger.warn({ module: 'realtime', conversationId, err: err instanceof Error ? err.message : String(err) }, 'membership change not confirmed by every node');
    },
  });
  const messaging = createMessaging({
    store: deps.store,
    realtime,
    delivery: deps.delivery,
    limiter,
    attachmentHosts: config.limits.attachmentHosts,
    ...config.messaging, // batching of sends and receipts, the edit window
  });
  // Presence counts this node's sockets and tells watchers on every node of changes.
  const presenceNode = config.relayMode
    ? undefined
    : createPresenceNode({ redis: redis.cmd, prefix: config.redis.prefix, nodeId: config.nodeId, heartbeatMs: config.presence.heartbeatMs, logger: deps.logger, onChange: emitPresence(io) });
  const handlers: EventHandlers = config.relayMode
    ? createRelayHandlers(io)
    : {
        ...createConversationHandlers(messaging),
        ...createMessageHandlers(messaging),
        ...createPresenceHandlers({ presence: deps.presence, limiter }),
      };
  serveSockets(io, {
    verifyToken: deps.verifyToken,
    maxConnectionsPerUser: config.limits.maxConnectionsPerUser,
    maxRoomsPerSocket: config.limits.maxRoomsPerSocket,
    budget: config.limits.socketBudget,
    trustProxy: config.http.trustProxy,
    limiter,
    conversationIdsOf: messaging.roomIds.of,
    logger: deps.logger,
    metrics: deps.metrics,
    handlers,
    hooks: { track: deps.lifecycle.track, onResult: observeEvents(deps.metrics) },
    ...(presenceNode ? { presence: presenceNode } : {}),
  });
  return { io, messaging, publish: realtime.publishMessage, presenceNode };
}
