// One client of the storm scenario: a socket that, when its node goes away, reconnects as the
// documented client does (socket.io-client's back-off with jitter; after `server:draining`, not
// before `reconnectAfterMs` plus jitter), to the node a load balancer would pick next, and then
// syncs every conversation from the highest seq below which it has seen everything.
import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';

/** docs/protocol.md: the recommended reconnection options. */
export const DOCUMENTED_BACKOFF = { reconnectionDelay: 1000, reconnectionDelayMax: 30000, randomizationFactor: 0.5 } as const;

export interface StormClientOptions {
  userId: string;
  jwtSecret: string;
  /** The node it connects to first, and the one a balancer sends it to after a drop. */
  url: string;
  fallbackUrl: string;
  onHandshakeError: (code: string) => void;
}

export class StormClient {
  readonly socket: Socket;
  /** Per conversation: every seq seen (live or synced). */
  readonly seen = new Map<string, Set<number>>();
  droppedAt?: number;
  backAt?: number;
  private connects = 0;
  private drainingMs?: number;

  constructor(private readonly o: StormClientOptions) {
    this.socket = io(o.url, {
      auth: (cb) => cb({ token: jwt.sign({ sub: o.userId }, o.jwtSecret, { algorithm: 'HS256', expiresIn: '1h' }) }),
      transports: ['websocket'],
      forceNew: true,
      ...DOCUMENTED_BACKOFF,
    });
    this.socket.on('message:new', ({ message }: { message: { conversationId: string; seq: number } }) => this.see(message.conversationId, message.seq));
    this.socket.on('server:draining', ({ reconnectAfterMs }: { reconnectAfterMs: number }) => (this.drainingMs = reconnectAfterMs));
    this.socket.on('disconnect', (reason) => {
      this.droppedAt ??= performance.now();
      // The balancer would send the next attempt elsewhere: the dead node is out of its pool.
      (this.socket.io as unknown as { uri: string }).uri = o.fallbackUrl;
      // A server-side disconnect is not retried by socket.io-client on its own.
      if (reason === 'io server disconnect') {
        const delay = (this.drainingMs ?? DOCUMENTED_BACKOFF.reconnectionDelay) * (1 + Math.random() * DOCUMENTED_BACKOFF.randomizationFactor);
        setTimeout(() => this.socket.connect(), delay).unref();
      }
    });
    this.socket.on('connect_error', (err: Error & { data?: { code?: string; retryAfterMs?: number } }) => {
      o.onHandshakeError(err.data?.code ?? 'TRANSPORT');
      // A refused handshake is not retried by socket.io-client: wait retryAfterMs plus jitter.
      if (err.data?.code === 'RATE_LIMITED' || err.data?.code === 'UNAVAILABLE' || err.data?.code === 'INTERNAL') {
        const delay = (err.data.retryAfterMs ?? DOCUMENTED_BACKOFF.reconnectionDelay) * (1 + Math.random() * DOCUMENTED_BACKOFF.randomizationFactor);
        setTimeout(() => this.socket.connect(), delay).unref();
      }
    });
    this.socket.on('connect', () => {
      if (this.connects++ > 0 && this.droppedAt !== undefined) {
        this.backAt ??= performance.now();
        this.syncAll().catch(() => {}); // the final check syncs again
      }
    });
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('connect', () => resolve()));
  }

  track(conversationId: string): void {
    if (!this.seen.has(conversationId)) this.seen.set(conversationId, new Set());
  }

  private see(conversationId: string, seq: number): void {
    this.seen.get(conversationId)?.add(seq);
  }

  /** The highest seq below which every seq was seen: what is synced from. */
  private contiguous(conversationId: string): number {
    const s = this.seen.get(conversationId)!;
    let n = 0;
    while (s.has(n + 1)) n++;
    return n;
  }

  /** Catches up on every conversation (as the client library does after each reconnection). */
  async syncAll(): Promise<void> {
    for (const conversationId of this.seen.keys()) {
      let after = this.contiguous(conversationId);
      for (let guard = 0; guard < 100; guard++) {
        const res = (await this.socket.timeout(10_000).emitWithAck('conversation:sync', { conversationId, afterSeq: after })) as {
          ok: boolean;
          messages?: { seq: number }[];
          hasMore?: boolean;
        };
        // A refused sync (RATE_LIMITED, UNAVAILABLE on a saturated node) is an error, so that
        // the final check tries again instead of counting unseen messages as lost.
        if (!res.ok) throw new Error(`conversation:sync refused: ${JSON.stringify(res)}`);
        for (const m of res.messages ?? []) this.see(conversationId, m.seq);
        after = Math.max(after, ...(res.messages ?? []).map((m) => m.seq));
        if (!res.hasMore) break;
      }
    }
  }

  close(): void {
    this.socket.close();
  }
}
