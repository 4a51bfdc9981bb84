// The Socket.IO side: origin check, handshake authentication and rate limit, room subscription
// before the connection is announced, token expiry, and event handler registration.
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { LIMITS } from '../../protocol/index.js';
import type { TokenVerifier } from '../auth/jwt.js';
import { toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Limiter } from '../messaging/ports.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { registerHandlers, type EventHandlers, type HandlerHooks } from './handlers.js';
import { conversationRoom, userRoom } from './rooms.js';
import type { GatewayServer, GatewaySocket } from './types.js';

export interface SocketServerOptions {
  httpServer: HttpServer;
  pub: Redis;
  sub: Redis;
  /** Adapter channel prefix; the delivery worker's emitter uses the same. */
  adapterKey: string;
  corsOrigins: readonly string[];
  verifyToken: TokenVerifier;
  limiter: Limiter;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  handlers: EventHandlers;
  hooks: HandlerHooks;
  /** Extra socket setup (e.g. relay mode replaces the handlers). */
  onConnection?: (socket: GatewaySocket) => void;
}

/** Max delay for timers: setTimeout overflows past 2^31-1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

export function originAllowed(origin: string | undefined, allowList: readonly string[]): boolean {
  // Non-browser clients send no Origin; an allow-list constrains browsers, which always do.
  if (allowList.length === 0 || origin === undefined) return true;
  return allowList.includes(origin);
}

export function createSocketServer(opts: SocketServerOptions): GatewayServer {
  const log = opts.logger.child({ module: 'gateway' });
  const io: GatewayServer = new Server(opts.httpServer, {
    maxHttpBufferSize: LIMITS.frameMaxBytes,
    pingInterval: 25_000,
    pingTimeout: 20_000,
    connectTimeout: 10_000,
    cors: opts.corsOrigins.length ? { origin: [...opts.corsOrigins], credentials: true } : { origin: true },
    // The cors option alone does not stop non-browser clients that send a foreign Origin.
    allowRequest: (req, callback) => callback(null, originAllowed(req.headers.origin, opts.corsOrigins)),
    adapter: createAdapter(opts.pub, opts.sub, { key: opts.adapterKey }),
  });

  io.use(async (socket, next) => {
    try {
      await opts.limiter.consume('handshake', clientIp(socket.request));
      const auth: unknown = socket.handshake.auth;
      const token = typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>).token : undefined;
      const identity = opts.verifyToken(token);
      socket.data.userId = identity.userId;
      socket.data.roles = identity.roles;
      socket.data.expiresAt = identity.expiresAt;
      socket.data.connId = randomUUID();
      // Rooms are looked up before the connection is announced, so a client that has seen
      // `connect` is already subscribed to all its conversations.
      const conversationIds = await opts.store.listConversationIds(identity.userId);
      socket.join([userRoom(identity.userId), ...conversationIds.map(conversationRoom)]);
      next();
    } catch (err) {
      const e = toAppError(err);
      opts.metrics.connectRefusals.inc({ code: e.code });
      if (e.code === 'INTERNAL') log.error({ err: e.cause ?? e }, 'handshake failed');
      const error = new Error(e.message) as Error & { data?: unknown };
      error.data = { code: e.code, message: e.message, ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}) };
      next(error);
    }
  });

  io.on('connection', (socket) => {
    const { userId, connId, expiresAt } = socket.data;
    const socketLog = log.child({ connId, userId, socketId: socket.id });
    opts.metrics.connects.inc();
    opts.metrics.socketsConnected.inc();
    socketLog.debug('connected');

    // A token that expires while connected ends the socket at `exp`.
    const expiry = setTimeout(
      () => {
        socket.emit('session:expired', {});
        socket.disconnect(true);
      },
      Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())),
    );
    expiry.unref();

    socket.on('disconnect', (reason) => {
      clearTimeout(expiry);
      opts.metrics.socketsConnected.dec();
      opts.metrics.disconnects.inc({ reason });
      socketLog.debug({ reason }, 'disconnected');
    });

    if (opts.onConnection) opts.onConnection(socket);
    else registerHandlers(socket, opts.handlers, socketLog, opts.hooks);
    void userId;
  });

  return io;
}
