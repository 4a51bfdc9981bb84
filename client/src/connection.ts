// The socket: a token from the app's provider (fetched again before it expires, after
// `session:expired` and after a refused handshake), reconnection with back-off and jitter after
// every kind of drop (Socket.IO's own reconnection is off so one policy decides every delay:
// `server:draining` and `RATE_LIMITED` set a floor), an observable state, and calls that resolve
// with the ok data or reject with a ClientError — also when the socket drops while waiting.
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { ClientEventName, ClientToServerEvents, OkDataOf, PayloadOf, ServerToClientEvents, WireError } from '../../protocol/index.js';
import { Emitter } from './emitter.js';
import { ClientError, isTransient, unavailable } from './errors.js';
import { backoffDelay, sleep, timer, type BackoffOptions } from './timing.js';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * `connecting`: a handshake is under way; `online`: connected; `offline`: disconnected, a retry
 * is scheduled; `draining`: the node announced its shutdown, the reconnection waits its delay.
 */
export type ConnectionState = 'connecting' | 'online' | 'offline' | 'draining';

/** Why the library asks for a token: the first connection, ahead of `exp`, after `session:expired`, after a refused handshake. */
export type TokenReason = 'initial' | 'expiring' | 'expired' | 'refused';
export type TokenProvider = (reason: TokenReason) => string | Promise<string>;

export interface ConnectionOptions {
  /** Gateway URL; omit in the browser for the page's origin. */
  url?: string;
  token: TokenProvider;
  /** Reconnection back-off; default 500 ms doubling to 15 s, with jitter. */
  reconnect?: Partial<BackoffOptions>;
  /** Back-off between tries of a send, a sync or a retried call; default 250 ms doubling to 10 s, with jitter. */
  retry?: Partial<BackoffOptions>;
  /** How long a call waits for its ack; default 10 s. */
  callTimeoutMs?: number;
  /** Fetch a new token this long before the current one's `exp`; default 60 s; 0: only after `session:expired`. */
  refreshBeforeExpiryMs?: number;
  /** Extra Socket.IO options (path, transports, …). */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

interface ConnectionEvents {
  state: ConnectionState;
  /** After every connect; `resumed` is false the first time. */
  connect: { resumed: boolean };
  disconnect: string;
}

/** `exp` of a JWT in epoch ms (unverified: only to schedule the refresh), or undefined. */
export function tokenExpiry(token: string): number | undefined {
  try {
    const part = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    const exp = (JSON.parse(atob(part)) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

type Ack = { ok: true } | { ok: false; error: WireError };

export interface CallOptions {
  /**
   * Tries in all while the error is transient (UNAVAILABLE, RATE_LIMITED, INTERNAL), with
   * back-off, never sooner than `retryAfterMs`; default 1. Only for calls that are safe to repeat.
   */
  attempts?: number;
  /** Every failed try, before the next one or the rejection. */
  onError?: (err: ClientError, attempt: number) => void;
}

export class Connection extends Emitter<ConnectionEvents> {
  readonly socket: ClientSocket;
  state: ConnectionState = 'connecting';
  private token: string | undefined;
  private nextReason: TokenReason = 'initial';
  private refreshing: Promise<string> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private drainUntil = 0;
  private everConnected = false;
  private closed = false;
  /** Rejecters of calls waiting for an ack: a drop fails them at once instead of at their timeout. */
  private readonly waiting = new Set<(err: ClientError) => void>();
  private readonly backoff: BackoffOptions;
  readonly retryBackoff: BackoffOptions;
  private readonly callTimeoutMs: number;

  constructor(private readonly opts: ConnectionOptions) {
    super();
    this.backoff = { minMs: 500, maxMs: 15_000, ...opts.reconnect };
    this.retryBackoff = { minMs: 250, maxMs: 10_000, ...opts.retry };
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    const ioOpts: Partial<ManagerOptions & SocketOptions> = {
      transports: ['websocket'],
      timeout: 10_000,
      forceNew: true,
      ...opts.socket,
      autoConnect: false,
      reconnection: false,
      // Asked on every attempt, so a reconnection presents a token valid now.
      auth: (cb) => {
        this.currentToken().then(
          (token) => cb({ token }),
          () => cb({ token: '' }),
        );
      },
    };
    this.socket = opts.url === undefined ? io(ioOpts) : io(opts.url, ioOpts);
    this.listen();
  }

  get online(): boolean {
    return this.socket.connected;
  }

  start(): void {
    if (this.closed || this.socket.connected || this.socket.active) return;
    this.setState('connecting');
    this.socket.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    this.socket.disconnect();
    this.failWaiting('closed');
  }

  /** Emits `event` and resolves with the ok data; rejects with a ClientError (UNAVAILABLE when offline, dropped or timed out). */
  call<E extends ClientEventName>(event: E, payload: PayloadOf<E>, opts?: CallOptions): Promise<OkDataOf<E>> {
    return opts && ((opts.attempts ?? 1) > 1 || opts.onError) ? this.callRetrying(event, payload, opts) : this.callOnce(event, payload);
  }

  private async callRetrying<E extends ClientEventName>(event: E, payload: PayloadOf<E>, opts: CallOptions): Promise<OkDataOf<E>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.callOnce(event, payload);
      } catch (err) {
        const e = err as ClientError;
        opts.onError?.(e, attempt);
        if (attempt >= (opts.attempts ?? 1) || !isTransient(e) || this.closed) throw e;
        await sleep(Math.max(e.retryAfterMs ?? 0, backoffDelay(attempt - 1, this.retryBackoff)));
      }
    }
  }

  private callOnce<E extends ClientEventName>(event: E, payload: PayloadOf<E>): Promise<OkDataOf<E>> {
    // Never buffered while offline: Socket.IO would send it late, after the caller gave up.
    if (!this.socket.connected) return Promise.reject(unavailable('offline', 'offline'));
    // One promise settled by whichever comes first: the ack, the timeout, or a drop (failWaiting).
    return new Promise((resolve, reject) => {
      const fail = (err: ClientError) => {
        this.waiting.delete(fail);
        reject(err);
      };
      this.waiting.add(fail);
      const emit = this.socket.timeout(this.callTimeoutMs) as unknown as { emit(e: string, p: unknown, cb: (err: Error | null, res: Ack) => void): void };
      emit.emit(event, payload, (err, res) => {
        if (!this.waiting.delete(fail)) return; // already failed by a drop
        if (err) reject(unavailable('timeout', 'no answer in time'));
        else if (!res.ok) reject(new ClientError(res.error));
        else {
          const { ok: _ok, ...data } = res;
          resolve(data as unknown as OkDataOf<E>);
        }
      });
    });
  }

  /** The current token, fetched from the provider when there is none (or it is being renewed). */
  currentToken(): Promise<string> {
    if (this.refreshing) return this.refreshing;
    if (this.token !== undefined) return Promise.resolve(this.token);
    return this.refreshToken(this.nextReason);
  }

  private refreshToken(reason: TokenReason): Promise<string> {
    this.refreshing ??= Promise.resolve()
      .then(() => this.opts.token(reason))
      .then((token) => {
        this.token = token;
        this.scheduleRefresh(token);
        return token;
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private scheduleRefresh(token: string): void {
    clearTimeout(this.refreshTimer);
    const exp = tokenExpiry(token);
    const ahead = this.opts.refreshBeforeExpiryMs ?? 60_000;
    if (exp === undefined || ahead <= 0 || this.closed) return;
    const at = exp - ahead;
    // A token already inside the window (short-lived, or one that cannot be renewed) waits for
    // `session:expired` instead: refreshing it now would loop.
    if (at <= Date.now()) return;
    this.refreshTimer = timer(() => void this.refreshToken('expiring').catch(() => (this.token = undefined)), at - Date.now());
  }

  private listen(): void {
    const s = this.socket;
    s.on('connect', () => {
      const resumed = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.drainUntil = 0;
      this.setState('online');
      this.emit('connect', { resumed });
    });
    s.on('disconnect', (reason) => {
      this.failWaiting(reason);
      if (this.closed) return;
      this.emit('disconnect', reason);
      // The app disconnected the socket itself: it decides when to connect again.
      if (reason !== 'io client disconnect') this.retry(0);
      else this.setState('offline');
    });
    s.on('connect_error', (err: Error & { data?: Partial<WireError> }) => {
      if (this.closed) return;
      const data = err.data;
      let floor = 0;
      if (data?.code === 'UNAUTHENTICATED') {
        this.token = undefined;
        this.nextReason = 'refused';
      } else if (data?.code === 'RATE_LIMITED') {
        floor = (data.retryAfterMs ?? 1_000) + Math.random() * 1_000;
      }
      this.retry(floor);
    });
    s.on('session:expired', () => {
      // The server disconnects next; the reconnection waits for a fresh token (unless the
      // refresh ahead of `exp` already brought one).
      if (this.token !== undefined && (tokenExpiry(this.token) ?? 0) > Date.now() + 1_000) return;
      this.token = undefined;
      this.nextReason = 'expired';
      void this.refreshToken('expired').catch(() => {});
    });
    s.on('server:draining', ({ reconnectAfterMs }) => {
      this.drainUntil = Date.now() + reconnectAfterMs + Math.random() * Math.max(500, reconnectAfterMs);
      this.setState('draining');
    });
  }

  /** Schedules the next attempt: back-off with jitter, never before a drain or rate-limit floor. */
  private retry(floorMs: number): void {
    clearTimeout(this.retryTimer);
    if (this.drainUntil <= Date.now()) this.setState('offline');
    const delay = Math.max(floorMs, this.drainUntil - Date.now(), backoffDelay(this.attempt++, this.backoff));
    // Not unref'd: a client waiting to reconnect keeps its process alive.
    this.retryTimer = setTimeout(() => {
      if (this.closed || this.socket.connected) return;
      this.setState('connecting');
      this.socket.connect();
    }, delay);
  }

  private failWaiting(reason: string): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const fail of waiting) fail(unavailable('disconnected', `disconnected (${reason})`));
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }
}
