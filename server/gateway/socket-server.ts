// The Socket.IO side, in two steps: createSocketServer builds the server on the shared HTTP
// server with its Redis adapter and origin check (the domain's Realtime port needs it);
// serveSockets then installs the handshake (rate limit, authentication, room subscription
// before the connection is announced), token expiry and the event handlers.
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Server } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { RedisClient } from '../redis.js';
import { LIMITS } from '../../protocol/index.js';
import { clientIp, compileTrust, type TrustProxy } from '../auth/client-ip.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { SocketBudget } from '../config.js';
import { AppError, toAppError, toWireError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Limiter } from '../messaging/ports.js';
import type { Metrics } from '../metrics.js';
import { createDispatcher, type EventHandlers, type HandlerHooks } from './register.js';
import type { GatewaySocket } from './types.js';
import { conversationRoom, userRoom } from './rooms.js';
import { gateUpgrades } from './upgrade-gate.js';
import type { GatewayServer } from './types.js';

export interface SocketServerOptions {
  httpServer: HttpServer;
  pub: RedisClient;
  sub: RedisClient;
  /** Adapter channel prefix; the delivery worker's emitter uses the same. */
  adapterKey: string;
  /** classic: one pattern subscription, every node hears every broadcast; sharded: SPUBLISH per room channel (Redis >= 7). */
  adapter?: 'classic' | 'sharded';
  corsOrigins: readonly string[];
  /** WS_PER_MESSAGE_DEFLATE: compress frames (a zlib context per socket); off by default. */
  perMessageDeflate?: boolean;
}

export interface SocketServingOptions {
  verifyToken: TokenVerifier;
  maxConnectionsPerUser: number;
  /** Conversation rooms joined at connect, the most recently active (MAX_ROOMS_PER_SOCKET); a user in more sees the rest via sync/REST. */
  maxRoomsPerSocket?: number;
  limiter: Limiter;
  /** The user's `limit` most recently active conversation ids: the rooms a socket joins before `connect` is announced. */
  conversationIdsOf: (userId: string, limit: number) => Promise<readonly string[]>;
  logger: Logger;
  metrics: Metrics;
  handlers: EventHandlers;
  hooks: HandlerHooks;
  /** TRUST_PROXY: whose X-Forwarded-For names the client IP of a handshake (none when unset). */
  trustProxy?: TrustProxy;
  /** The per-socket event budget (§7); §7's defaults when unset. */
  budget?: SocketBudget;
  /** Told of every socket that connects and disconnects (presence counts). */
  presence?: { connected(userId: string): void; disconnected(userId: string): void };
}

/** Default of maxRoomsPerSocket: the cap on a user's open conversations (§7). */
export const MAX_ROOMS_PER_SOCKET = 10_000;

/** Max delay for timers: setTimeout overflows past 2^31-1 ms. */
const MAX_TIMER_MS = 2_147_483_647;


export function originAllowed(origin: string | undefined, allowList: readonly string[]): boolean {
  // Non-browser clients send no Origin; an allow-list constrains browsers, which always do.
  if (allowList.length === 0 || origin === undefined) return true;
  return allowList.includes(origin);
}

export function createSocketServer(opts: SocketServerOptions): GatewayServer {
  const io: GatewayServer = new Server(opts.httpServer, {
    maxHttpBufferSize: LIMITS.frameMaxBytes,
    pingInterval: 25_000,
    pingTimeout: 20_000,
    connectTimeout: 10_000,
    // Explicit, as the memory per idle socket depends on it (engine.io's default is off too).
    perMessageDeflate: opts.perMessageDeflate === true,
    cors: opts.corsOrigins.length ? { origin: [...opts.corsOrigins], credentials: true } : { origin: true },
    // The cors option alone does not stop non-browser clients that send a foreign Origin.
    allowRequest: (req, callback) => callback(null, originAllowed(req.headers.origin, opts.corsOrigins)),
    adapter:
      opts.adapter === 'sharded'
        ? // Dynamic mode: a node subscribes to a room's channel only while it has sockets in it.
          createShardedAdapter(opts.pub, opts.sub, { channelPrefix: opts.adapterKey, subscriptionMode: 'dynamic' })
        : createAdapter(opts.pub, opts.sub, { key: opts.adapterKey }),
  });
  // engine.io's upgrade handling, a turn's worth at a time (upgrade-gate.ts).
  gateUpgrades(opts.httpServer);
  return io;
}

/** Starts serving clients on `io`: handshake, connection bookkeeping, the event handlers. */
export function serveSockets(io: GatewayServer, opts: SocketServingOptions): void {
  const log = opts.logger.child({ module: 'gateway' });

  // Sockets per user on this node (a per-node cap: cheap, and enough to stop one account from
  // exhausting a node; the handshake rate limit bounds the cluster-wide rate).
  const perUser = new Map<string, number>();

  const trusted = compileTrust(opts.trustProxy ?? false);
  const ipOf = (req: IncomingMessage) => clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);

  const holding = new WeakSet<GatewaySocket>();
  function release(socket: GatewaySocket): void {
    if (!holding.delete(socket)) return;
    const userId = socket.data.userId;
    const left = (perUser.get(userId) ?? 1) - 1;
    if (left > 0) perUser.set(userId, left);
    else perUser.delete(userId);
  }

  io.use(async (socket, next) => {
    try {
      const auth: unknown = socket.handshake.auth;
      const token = typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>).token : undefined;
      // §7: failed handshakes count against the client IP (RATE_LIMITED once it is over),
      // successful ones against the user, so one abuser cannot lock out an address's users.
      let identity: ReturnType<TokenVerifier>;
      try {
        identity = opts.verifyToken(token);
      } catch (err) {
        await opts.limiter.consume('handshake', `ip:${ipOf(socket.request)}`);
        throw err;
      }
      await opts.limiter.consume('handshake', `user:${identity.userId}`);
      // The slot is taken at the check (parallel handshakes of one user cannot all pass it) and
      // given back once: on refusal, on disconnect, or when the client left before connecting.
      if ((perUser.get(identity.userId) ?? 0) >= opts.maxConnectionsPerUser)
        throw new AppError('RATE_LIMITED', 'too many connections for this user', { retryAfterMs: 5_000 });
      socket.data.userId = identity.userId;
      perUser.set(identity.userId, (perUser.get(identity.userId) ?? 0) + 1);
      holding.add(socket);
      socket.conn.once('close', () => release(socket));
      socket.data.roles = identity.roles;
      socket.data.expiresAt = identity.expiresAt;
      socket.data.connId = randomUUID();
      // Rooms are looked up before the connection is announced, so a client that has seen
      // `connect` is already subscribed to all its conversations (the most recent, over the cap).
      const conversationIds = await opts.conversationIdsOf(identity.userId, opts.maxRoomsPerSocket ?? MAX_ROOMS_PER_SOCKET);
      const rooms = new Array<string>(conversationIds.length + 1);
      rooms[0] = userRoom(identity.userId);
      for (let i = 0; i < conversationIds.length; i++) rooms[i + 1] = conversationRoom(conversationIds[i]!);
      socket.join(rooms);
      next();
    } catch (err) {
      release(socket);
      const e = toAppError(err);
      opts.metrics.connectRefusals.inc({ code: e.code });
      if (e.code === 'INTERNAL') log.error({ err: e.cause ?? e }, 'handshake failed');
      const error = new Error(e.message) as Error & { data?: unknown };
      error.data = toWireError(e);
      next(error);
    }
  });

  // Per-socket state is kept to what a socket needs while idle: the listeners are shared (this
  // is the socket), a logger is made only when a socket has something to log, and the expiry
  // timer calls one shared function.
  const loggers = new WeakMap<GatewaySocket, Logger>();
  const loggerOf = (socket: GatewaySocket): Logger => {
    let l = loggers.get(socket);
    if (!l) loggers.set(socket, (l = log.child({ connId: socket.data.connId, userId: socket.data.userId, socketId: socket.id })));
    return l;
  };
  const attach = createDispatcher(opts.handlers, loggerOf, { ...opts.hooks, ...(opts.budget ? { budget: opts.budget } : {}) });
  const expiries = new WeakMap<GatewaySocket, NodeJS.Timeout>();
  const debug = log.isLevelEnabled('debug');

  function onDisconnect(this: GatewaySocket, reason: string): void {
    const { userId } = this.data;
    clearTimeout(expiries.get(this));
    release(this);
    opts.presence?.disconnected(userId);
    opts.metrics.socketsConnected.dec();
    opts.metrics.disconnects.inc({ reason });
    if (debug) loggerOf(this).debug({ reason }, 'disconnected');
  }

  io.on('connection', (socket) => {
    const { userId, expiresAt } = socket.data;
    opts.metrics.connects.inc();
    opts.metrics.socketsConnected.inc();
    opts.presence?.connected(userId);
    if (debug) loggerOf(socket).debug('connected');
    // The upgrade request (its headers, raw headers, parser state) is kept by engine.io for the
    // socket's life otherwise; nothing reads it after the handshake (Socket.IO's memory advice).
    (socket.conn as { request: unknown }).request = null;

    // A token that expires while connected ends the socket at `exp`.
    const expiry = setTimeout(expire, Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())), socket);
    expiry.unref();
    expiries.set(socket, expiry);
    socket.on('disconnect', onDisconnect);
    attach(socket);
  });
}

function expire(socket: GatewaySocket): void {
  socket.emit('session:expired', {});
  socket.disconnect(true);
}
