// One simulated user: one authenticated socket that behaves like a careful client. The client
// library's connection (client/) reconnects it after every kind of drop with back-off and
// jitter, honouring `server:draining` and RATE_LIMITED; the user catches up with
// `conversation:sync` from the highest seq it has seen, and (when sampled) reports delivered and
// read watermarks periodically instead of per message. Messages are counted as they arrive,
// live or synced, rather than through the library's ordered streams: the load generator measures
// the server's delivery, not the app-visible order.
import jwt from 'jsonwebtoken';
import { Connection, type ClientSocket } from '../client/src/index.js';
import type { AckOf, ClientEventName, Message, PayloadOf } from '../protocol/index.js';
import type { LoadOptions } from './options.js';
import type { Stats } from './stats.js';
import type { ConvInfo, Tracker } from './tracker.js';
import { sleep } from './util.js';

export type { ClientSocket };

/** What a request resolves with: the server's ack, or a client-side TIMEOUT. */
export type Reply<E extends ClientEventName> = AckOf<E> | { ok: false; error: { code: 'TIMEOUT'; message: string; retryAfterMs?: number } };

const RETRYABLE = new Set(['TIMEOUT', 'UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL']);
export const isRetryable = (code: string): boolean => RETRYABLE.has(code);

export interface SimUserContext {
  opts: LoadOptions;
  stats: Stats;
  tracker: Tracker;
  /** True once the run is shutting down: no reconnects, no receipts. */
  stopping(): boolean;
}

interface UntypedEmitter<R> {
  emit(event: string, payload: unknown, cb: (err: Error | null, res: R) => void): void;
}

interface ConnectError extends Error {
  data?: { code?: string };
}

export function userIdOf(runId: string, index: number): string {
  return `${runId}-u${index}`;
}

export class SimUser {
  readonly userId: string;
  readonly connection: Connection;
  readonly socket: ClientSocket;
  readonly conversations: ConvInfo[] = [];
  /** Highest seq seen per conversation (live or synced). */
  readonly highestSeq = new Map<string, number>();
  private readonly reported = new Map<string, number>();
  private receiptTimer: NodeJS.Timeout | undefined;
  private firstConnect: Promise<void> | undefined;
  private syncing = false;
  private msgCounter = 0;

  constructor(
    readonly index: number,
    readonly url: string,
    private readonly ctx: SimUserContext,
    readonly sendsReceipts: boolean,
  ) {
    const { opts } = ctx;
    this.userId = userIdOf(opts.runId, index);
    this.connection = new Connection({
      url,
      // Valid past the end of the run, so never refreshed ahead.
      token: () => this.mintToken(),
      refreshBeforeExpiryMs: 0,
      reconnect: { minMs: 500, maxMs: 5_000 },
      socket: { transports: opts.transports, timeout: 20_000 },
    });
    this.socket = this.connection.socket;
    this.socket.on('message:new', ({ message }) => this.onMessage(message, 'live'));
    this.socket.on('receipt', () => void this.ctx.stats.receiptsReceived++);
    this.socket.on('disconnect', () => {
      if (!this.ctx.stopping()) this.ctx.stats.disconnects++;
    });
    this.connection.on('connect', ({ resumed }) => {
      if (!resumed) return;
      this.ctx.stats.reconnects++;
      void this.syncAll();
    });
    this.socket.on('connect_error', (err: ConnectError) => {
      if (!this.ctx.stopping()) this.ctx.stats.error(`connect:${err.data?.code ?? 'TRANSPORT'}`);
    });
  }

  private mintToken(): string {
    const ttl = Math.ceil(this.ctx.opts.hardDeadlineSeconds + 3_600);
    return jwt.sign({ sub: this.userId }, this.ctx.opts.jwtSecret, { algorithm: 'HS256', expiresIn: ttl });
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  nextClientMsgId(): string {
    return `${this.ctx.opts.runId}-${this.index}-${(this.msgCounter++).toString(36)}`;
  }

  /** Opens the socket; resolves on the first successful connect (retries are built in). */
  connect(timeoutMs = 60_000): Promise<void> {
    this.firstConnect ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.userId}: no connection after ${timeoutMs} ms`)), timeoutMs);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      this.connection.start();
    });
    return this.firstConnect;
  }

  /** Emits a client event and resolves with its ack, or a TIMEOUT reply. Never rejects. */
  request<E extends ClientEventName>(event: E, payload: PayloadOf<E>, timeoutMs = this.ctx.opts.ackTimeoutMs): Promise<Reply<E>> {
    return new Promise((resolve) => {
      // The event map's generic emit does not narrow over a generic E; the payload type is
      // already checked by this method's signature.
      const timed = this.socket.timeout(timeoutMs) as unknown as UntypedEmitter<AckOf<E>>;
      timed.emit(event, payload, (err, res) => {
        if (err) resolve({ ok: false, error: { code: 'TIMEOUT', message: `no ack for ${event} in ${timeoutMs} ms` } });
        else resolve(res);
      });
    });
  }

  /** Like `request`, retrying retryable errors (waiting `retryAfterMs` when rate limited). */
  async call<E extends ClientEventName>(event: E, payload: PayloadOf<E>, attempts = 5): Promise<Reply<E>> {
    let reply: Reply<E> = { ok: false, error: { code: 'TIMEOUT', message: 'not sent' } };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      reply = await this.request(event, payload);
      if (reply.ok) return reply;
      this.ctx.stats.error(`${event}:${reply.error.code}`);
      if (!isRetryable(reply.error.code) || attempt === attempts) return reply;
      await sleep(reply.error.retryAfterMs ?? 100 * 2 ** attempt);
    }
    return reply;
  }

  private onMessage(message: Message, via: 'live' | 'sync'): void {
    const prev = this.highestSeq.get(message.conversationId) ?? 0;
    if (message.seq > prev) this.highestSeq.set(message.conversationId, message.seq);
    this.ctx.tracker.onMessage(this.index, message, via, performance.now());
  }

  /** Pages through `conversation:sync` after `afterSeq`; every message counts as seen. */
  async syncConversation(conversationId: string, afterSeq: number, onPage?: (messages: Message[]) => void): Promise<boolean> {
    let after = afterSeq;
    for (let pages = 0; pages < 100_000; pages++) {
      const reply = await this.call('conversation:sync', { conversationId, afterSeq: after, limit: 200 });
      if (!reply.ok) return false;
      for (const m of reply.messages) this.onMessage(m, 'sync');
      onPage?.(reply.messages);
      if (!reply.hasMore || reply.messages.length === 0) return true;
      after = reply.messages[reply.messages.length - 1]!.seq;
    }
    return true;
  }

  /** After a reconnect: catch up every conversation from the highest seq seen. */
  private async syncAll(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      for (const conv of this.conversations) {
        if (this.ctx.stopping()) return;
        await this.syncConversation(conv.id, this.highestSeq.get(conv.id) ?? 0);
      }
    } finally {
      this.syncing = false;
    }
  }

  /** Starts periodic delivered/read reports (sampled users only). */
  startReceipts(): void {
    if (!this.sendsReceipts || this.receiptTimer) return;
    const every = this.ctx.opts.receiptIntervalMs;
    const tick = () => {
      if (this.ctx.stopping() || !this.connected) return;
      for (const [conversationId, seq] of this.highestSeq) {
        if ((this.reported.get(conversationId) ?? 0) >= seq) continue;
        this.reported.set(conversationId, seq);
        this.ctx.stats.receiptsSent++;
        void this.request('message:delivered', { conversationId, seq }).then((r) => {
          if (!r.ok) this.ctx.stats.error(`message:delivered:${r.error.code}`);
        });
        if (Math.random() < this.ctx.opts.readRatio) {
          this.ctx.stats.receiptsSent++;
          void this.request('message:read', { conversationId, seq }).then((r) => {
            if (!r.ok) this.ctx.stats.error(`message:read:${r.error.code}`);
          });
        }
      }
    };
    // A random phase so sampled clients do not report in lockstep.
    const first = setTimeout(() => {
      tick();
      this.receiptTimer = setInterval(tick, every);
    }, Math.random() * every);
    this.receiptTimer = first;
  }

  close(): void {
    if (this.receiptTimer) {
      clearTimeout(this.receiptTimer);
      clearInterval(this.receiptTimer);
    }
    this.connection.close();
    this.socket.removeAllListeners();
  }
}
