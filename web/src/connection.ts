// The socket: typed events, a token fetched on every (re)connection attempt, a visible state,
// reconnection after every kind of drop (network, server restart, expired token), and calls
// that answer with the ok data or throw the wire error.
import { io, type Socket } from 'socket.io-client';
import type { ClientEventName, ClientToServerEvents, OkDataOf, PayloadOf, ServerToClientEvents, WireError } from '../../protocol/index.js';
import { SessionEnded } from './session.js';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** `connecting` (first time), `online`, `syncing` (back after a drop, catching up), `offline` (retrying), `ended` (sign in again). */
export type ConnectionState = 'connecting' | 'online' | 'syncing' | 'offline' | 'ended';

/** A failed acknowledgement, or `UNAVAILABLE` when offline or no answer came in time. */
export class CallError extends Error {
  override name = 'CallError';
  constructor(readonly wire: WireError) {
    super(`${wire.code}: ${wire.message}`);
  }
}

export interface ConnectionOptions {
  tokens: { token(): Promise<string>; renew(): Promise<unknown> };
  onState(state: ConnectionState, detail?: string): void;
  /** After every connect; `resumed` is false the first time. Runs before the state is `online`. */
  onConnected(resumed: boolean): Promise<void>;
  onSessionEnded(reason: string): void;
}

const CALL_TIMEOUT_MS = 10_000;

export function createConnection(opts: ConnectionOptions) {
  let everConnected = false;
  let ended = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Handshakes refused as UNAUTHENTICATED in a row, even with a renewed token. */
  let refusals = 0;

  // Websocket only: no sticky sessions needed when several nodes sit behind one address.
  const socket: ClientSocket = io({
    transports: ['websocket'],
    autoConnect: false,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5_000,
    randomizationFactor: 0.5,
    timeout: 8_000,
    // Called on every attempt, so a reconnection always presents a token that is valid now.
    auth: (cb) => {
      opts.tokens.token().then(
        (token) => cb({ token }),
        (err: unknown) => {
          if (err instanceof SessionEnded) end(err.message);
          cb({ token: '' });
        },
      );
    },
  });

  function end(reason: string): void {
    if (ended) return;
    ended = true;
    clearTimeout(retryTimer);
    socket.disconnect();
    opts.onState('ended', reason);
    opts.onSessionEnded(reason);
  }

  /** Reconnects by hand after drops Socket.IO does not retry itself (server kicks, refused handshakes). */
  function retryLater(ms: number): void {
    if (ended) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (!socket.connected && !ended) socket.connect();
    }, ms);
  }

  socket.on('connect', () => {
    const resumed = everConnected;
    everConnected = true;
    refusals = 0;
    opts.onState(resumed ? 'syncing' : 'connecting', resumed ? 'catching up' : 'loading');
    opts.onConnected(resumed).then(
      () => socket.connected && opts.onState('online'),
      (err: unknown) => {
        if (err instanceof SessionEnded) return end(err.message);
        console.warn('[relaygate] sync after connect failed', err);
        if (socket.connected) opts.onState('online', 'some conversations could not be refreshed');
      },
    );
  });

  socket.on('disconnect', (reason) => {
    if (ended) return;
    opts.onState('offline', reason === 'io client disconnect' ? 'disconnected' : 'reconnecting…');
    // Socket.IO retries transport drops itself; a server-side disconnect needs a manual retry.
    if (reason === 'io server disconnect') retryLater(500 + Math.random() * 1_000);
  });

  socket.on('connect_error', (err: Error & { data?: { code?: string; retryAfterMs?: number } }) => {
    if (ended) return;
    const code = err.data?.code;
    opts.onState('offline', code ? `refused: ${code}` : 'reconnecting…');
    if (!code) return; // transport error: Socket.IO keeps retrying
    if (code === 'UNAUTHENTICATED') {
      if (++refusals > 3) return end('the server keeps refusing the token; sign in again');
      opts.tokens.renew().then(
        () => retryLater(200),
        (e: unknown) => (e instanceof SessionEnded ? end(e.message) : retryLater(3_000)),
      );
    } else {
      retryLater(Math.max(err.data?.retryAfterMs ?? 0, 1_000 + Math.random() * 2_000));
    }
  });

  socket.on('session:expired', () => {
    // The server disconnects right after; the reconnection presents a renewed token.
    opts.tokens.renew().catch((e: unknown) => e instanceof SessionEnded && end(e.message));
  });

  socket.on('server:draining', ({ reconnectAfterMs }) => {
    opts.onState('offline', 'server restarting…');
    retryLater(reconnectAfterMs + Math.random() * 1_000);
  });

  /** Emits and resolves with the ok data; throws CallError on an error ack, offline or timeout. */
  async function call<E extends ClientEventName>(event: E, payload: PayloadOf<E>): Promise<OkDataOf<E>> {
    // Not buffered while offline: callers keep the work and retry after the reconnection.
    if (!socket.connected) throw new CallError({ code: 'UNAVAILABLE', message: 'offline' });
    let res: { ok: boolean; error?: WireError };
    try {
      const timed = socket.timeout(CALL_TIMEOUT_MS) as unknown as { emitWithAck(e: string, p: unknown): Promise<typeof res> };
      res = await timed.emitWithAck(event, payload);
    } catch {
      throw new CallError({ code: 'UNAVAILABLE', message: 'no answer from the server' });
    }
    if (!res.ok) throw new CallError(res.error ?? { code: 'INTERNAL', message: 'malformed answer' });
    const { ok: _ok, ...data } = res;
    return data as OkDataOf<E>;
  }

  return {
    socket,
    call,
    start: () => socket.connect(),
    get connected() {
      return socket.connected;
    },
    stop(): void {
      ended = true;
      clearTimeout(retryTimer);
      socket.disconnect();
    },
  };
}

export type Connection = ReturnType<typeof createConnection>;
