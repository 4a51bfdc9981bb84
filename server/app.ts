// Composition root: createApp(config) wires every component for the configured role and
// returns start/shutdown; it never reads the environment (main.ts does).
import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import helmet from 'helmet';
import cors from 'cors';
import { Redis, type RedisOptions } from 'ioredis';
import { Emitter } from '@socket.io/redis-emitter';
import { LIMITS, type Message, type ServerToClientEvents } from '../protocol/index.js';
import { createTokenVerifier } from './auth/jwt.js';
import type { Config } from './config.js';
import { createDeliveryQueue } from './delivery/queue.js';
import { createDeliveryWorker } from './delivery/worker.js';
import { createEventHandlers } from './gateway/events.js';
import { createRealtime } from './gateway/realtime.js';
import { conversationRoom } from './gateway/rooms.js';
import { createSocketServer } from './gateway/socket-server.js';
import type { GatewayServer } from './gateway/types.js';
import { createLimiter } from './limits.js';
import { createLogger, type Logger } from './logger.js';
import { createLifecycle } from './lifecycle.js';
import { createMessaging, type Messaging } from './messaging/index.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createHealthRouter } from './rest/health.router.js';
import { errorMiddleware, notFound } from './rest/errors.middleware.js';
import { requestContext } from './rest/request.middleware.js';
import { createV1Router } from './rest/v1.router.js';
import { createStore } from './store/index.js';
import type { Store } from './store/store.js';
import { registerRelayHandlers } from './gateway/relay.js';
import { createAdminQueuesRouter } from './ops/admin-queues.router.js';
import { countHttpRequests, instrumentStore, instrumentWorker, logAcceptedSends, registerQueueMetrics } from './ops/instrument.js';
import { createDocsRouter } from './rest/docs.router.js';
import { createWebRouter } from './rest/web.router.js';

export interface App {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  store: Store;
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

  const redisErrorLogged = new Set<string>();
  function redis(name: string, extra: RedisOptions = {}): Redis {
    const client = new Redis(config.redis.url, {
      connectionName: `${config.nodeId}:${name}`,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      ...extra,
    });
    client.on('error', (err: Error) => {
      // One line per client per outage, not one per retry.
      if (!redisErrorLogged.has(name)) log.warn({ client: name, err: err.message }, 'redis error');
      redisErrorLogged.add(name);
      if (name.startsWith('adapter')) metrics.adapterErrors.inc();
    });
    client.on('ready', () => redisErrorLogged.delete(name));
    return client;
  }

  // Commands that must fail fast when Redis is down (sends answer UNAVAILABLE, nothing waits).
  const cmd = redis('cmd', { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2_000 });
  const pub = redis('adapter-pub');
  // No ready check on the subscriber: the adapter subscribes as soon as it is built, and a
  // SUBSCRIBE that lands while ioredis's handshake (CLIENT SETINFO, INFO) is still pending puts
  // the connection in subscriber mode, fails the INFO and loses the subscriptions for good —
  // about one node start in ten then never received other nodes' broadcasts (found by the
  // load generator: exactly the members on the other node missed every message).
  const sub = redis('adapter-sub', { enableReadyCheck: false });
  const workerConn = runsWorker ? redis('worker', { maxRetriesPerRequest: null }) : undefined;

  const store = instrumentStore(await createStore(config.store), metrics);
  const verifyToken = createTokenVerifier(config.auth);
  const limiter = createLimiter({
    redis: cmd,
    prefix,
    scale: config.limits.scale,
    onReject: (family) => metrics.rateLimited.inc({ family }),
  });
  const delivery = createDeliveryQueue({
    connection: cmd,
    prefix,
    attempts: config.delivery.attempts,
    backoffMs: config.delivery.backoffMs,
  });
  registerQueueMetrics(metrics, delivery.all);
  const lifecycle = createLifecycle({ logger, timeoutMs: config.shutdownTimeoutMs });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use(helmet());
  app.use(requestContext(logger.child({ module: 'rest' })));
  app.use(countHttpRequests(metrics));
  app.use(
    createHealthRouter({
      metrics,
      isShuttingDown: lifecycle.isShuttingDown,
      checks: [
        { name: 'redis', check: () => cmd.ping() },
        { name: 'store', check: () => store.ping() },
      ],
    }),
  );
  const httpServer = createServer(app);

  let io: GatewayServer | undefined;
  let messaging: Messaging | undefined;
  let publish: (message: Message) => void;

  if (runsGateway) {
    // io is created first so the domain's Realtime port can broadcast through its adapter.
    let handlers: Parameters<typeof createSocketServer>[0]['handlers'] | undefined;
    io = createSocketServer({
      httpServer,
      pub,
      sub,
      adapterKey,
      adapter: config.redis.adapter,
      corsOrigins: config.http.corsOrigins,
      verifyToken,
      maxConnectionsPerUser: config.limits.maxConnectionsPerUser,
      limiter,
      store,
      logger,
      metrics,
      get handlers() {
        return handlers!;
      },
      hooks: {
        track: lifecycle.track,
        onResult: (event, code, seconds) => {
          metrics.events.inc({ event, code });
          metrics.eventSeconds.observe({ event }, seconds);
          if (event === 'message:send' && code === 'OK') metrics.sendsAccepted.inc();
        },
      },
      ...(config.relayMode ? { onConnection: (socket) => registerRelayHandlers(socket, io!) } : {}),
    });
    const realtime = createRealtime(io);
    publish = realtime.publishMessage;
    messaging = createMessaging({
      store,
      realtime,
      delivery,
      limiter,
      attachmentHosts: config.limits.attachmentHosts,
      appendBatchMax: config.messaging.appendBatchMax,
    });
    handlers = logAcceptedSends(createEventHandlers(messaging, limiter));

    app.use('/docs', createDocsRouter());
    app.use('/admin/queues', createAdminQueuesRouter({ queues: delivery.all, verifyToken, admin: config.admin }));
    app.use(createWebRouter({ config }));
    // CORS first, so preflights and body-parser errors (413, malformed JSON) carry its headers;
    // an empty allow-list allows any origin, as for sockets (REST uses bearer tokens, no cookies).
    app.use(
      cors({
        origin: config.http.corsOrigins.length ? [...config.http.corsOrigins] : true,
        exposedHeaders: ['X-Request-Id', 'ETag', 'Retry-After'],
        maxAge: 600,
      }),
    );
    app.use(express.json({ limit: LIMITS.frameMaxBytes, strict: true }));
    app.use(
      '/v1',
      createV1Router({
        config,
        logger,
        verifyToken,
        messaging,
        store,
        limiter,
        metrics,
        queues: { delivery: delivery.queue, deadLetter: delivery.dlq },
      }),
    );
  } else {
    const emitter = new Emitter<ServerToClientEvents>(pub, { key: adapterKey });
    publish = (message) => void emitter.to(conversationRoom(message.conversationId)).emit('message:new', { message });
  }
  app.use(notFound);
  app.use(errorMiddleware(logger.child({ module: 'rest' })));

  const worker = workerConn
    ? createDeliveryWorker({
        connection: workerConn,
        prefix,
        concurrency: config.delivery.concurrency,
        deadLetter: delivery.dlq,
        logger,
        publish: (m) => publish(m),
        onDelivered: (_m, acceptedAt) => {
          metrics.deliveries.inc();
          metrics.fanoutSeconds.observe((Date.now() - acceptedAt) / 1000);
        },
        onDeadLettered: () => metrics.deadLettered.inc(),
      })
    : undefined;
  for (const w of worker?.workers ?? []) instrumentWorker(metrics, w);

  async function checkRedisPolicy(): Promise<void> {
    const reply = (await cmd.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      const msg = `Redis maxmemory-policy is ${policy}; BullMQ needs noeviction or jobs may be lost`;
      if (config.redis.requireNoEviction) throw new Error(msg);
      log.warn(msg);
    }
  }

  // Shutdown order: not ready → stop accepting → tell clients → drain in-flight acks → close
  // sockets → drain workers and watermark writes → close queues → quit Redis → close store.
  lifecycle.add('let the load balancer see not ready', async () => {
    // /readyz answers 503 from the first moment; the port stays open this long so a load
    // balancer's health check sees it and stops routing here before connections are refused.
    if (config.shutdownReadyDelayMs > 0 && httpServer.listening) await new Promise((r) => setTimeout(r, config.shutdownReadyDelayMs));
  });
  lifecycle.add('stop accepting', async () => {
    await new Promise<void>((resolve) => {
      httpServer.close(() => resolve());
      httpServer.closeIdleConnections?.();
      if (!httpServer.listening) resolve();
    });
  });
  lifecycle.add('tell clients to reconnect elsewhere', async () => {
    io?.local.emit('server:draining', { reconnectAfterMs: 1_000 });
  });
  lifecycle.add('drain in-flight events', () => lifecycle.drainTracked());
  lifecycle.add('close sockets', async () => {
    if (io) {
      io.local.disconnectSockets(true);
      await io.close().catch(() => {});
    }
  });
  lifecycle.add('drain workers', async () => {
    await worker?.close();
    await messaging?.watermarks.drain();
  });
  lifecycle.add('close queues', () => delivery.close());
  lifecycle.add('quit redis', async () => {
    await Promise.all([cmd, pub, sub, workerConn].map((c) => c?.quit().catch(() => c.disconnect())));
  });
  lifecycle.add('close store', () => store.close());

  return {
    config,
    logger,
    metrics,
    store,
    httpServer,
    io,
    messaging,
    isReady: () => !lifecycle.isShuttingDown(),
    async start() {
      await store.init();
      // The command connection has no offline queue: wait until it is connected.
      if (cmd.status !== 'ready') {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`Redis at ${config.redis.url} is not reachable`)), 10_000);
          cmd.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      await cmd.ping();
      await checkRedisPolicy();
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const address = httpServer.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      log.info({ port, role: config.role, store: store.name, relay: config.relayMode }, 'listening');
      return { port };
    },
    shutdown: lifecycle.shutdown,
  };
}
