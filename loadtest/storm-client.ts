// One client of the storm scenario: the client library's Connection (client/src), so a socket
// reconnects exactly as docs/client.md documents (its own back-off, 500 ms doubling to 15 s with
// equal jitter; after `server:draining`, not before `reconnectAfterMs` plus jitter; after a
// RATE_LIMITED handshake, not before `retryAfterMs` plus jitter), to the node a load balancer
// would pick next, and then syncs every conversation from the highest seq below which it has
// seen everything.
import jwt from 'jsonwebtoken';
import { Connection, type ClientSocket } from '../client/src/index.js';

export interface StormClientOptions {
  userId: string;
  jwtSecret: string;
  /** The node it connects to first, and the one a balancer sends it to after a drop. */
  url: string;
  fallbackUrl: string;
  onHandshakeError: (code: string) => void;
}

export class StormClient {
  readonly connection: Connection;
  readonly socket: ClientSocket;
  /** Per conversation: every seq seen (live or synced). */
  readonly seen = new Map<string, Set<number>>();
  /** performance.now() of the first drop and of the first connect after it. */
  droppedAt?: number;
  backAt?: number;

  constructor(o: StormClientOptions) {
    const token = jwt.sign({ sub: o.userId }, o.jwtSecret, { algorithm: 'HS256', expiresIn: '1h' });
    this.connection = new Connection({ url: o.url, token: () => token, refreshBeforeExpiryMs: 0 });
    this.socket = this.connection.socket;
    this.socket.on('message:new', ({ message }) => this.see(message.conversationId, message.seq));
    this.connection.on('disconnect', () => {
      this.droppedAt ??= performance.now();
      // The balancer would send the next attempt elsewhere: the dead node is out of its pool.
      (this.socket.io as unknown as { uri: string }).uri = o.fallbackUrl;
    });
    this.socket.on('connect_error', (err: Error & { data?: { code?: string } }) => o.onHandshakeError(err.data?.code ?? 'TRANSPORT'));
    this.connection.on('connect', ({ resumed }) => {
      if (!resumed || this.droppedAt === undefined) return;
      this.backAt ??= performance.now();
      this.syncAll().catch(() => {}); // the final check syncs again
    });
    this.connection.start();
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.connection.on('connect', () => {
        off();
        resolve();
      });
    });
  }

  track(conversationId: string): void {
    if (!this.seen.has(conversationId)) this.seen.set(conversationId, new Set());
  }

  // Live messages count from the start, before `track` (the creation's system message
  // included), as they would for the library's stream, which syncs once on subscribing: a client
  // that missed nothing while away is caught up, and its sync after the reconnection is empty.
  private see(conversationId: string, seq: number): void {
    let s = this.seen.get(conversationId);
    if (!s) this.seen.set(conversationId, (s = new Set()));
    s.add(seq);
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
        // A refused sync (RATE_LIMITED, UNAVAILABLE on a saturated node) rejects, so that the
        // final check tries again instead of counting unseen messages as lost.
        const res = await this.connection.call('conversation:sync', { conversationId, afterSeq: after });
        for (const m of res.messages) this.see(conversationId, m.seq);
        after = Math.max(after, ...res.messages.map((m) => m.seq));
        if (!res.hasMore) break;
      }
    }
  }

  /** Acknowledged seqs (by conversation) this client has not seen. */
  missing(acked: Record<string, number[]>): number {
    let n = 0;
    for (const [id, seen] of this.seen) for (const seq of acked[id] ?? []) if (!seen.has(seq)) n++;
    return n;
  }

  close(): void {
    this.connection.close();
  }
}
