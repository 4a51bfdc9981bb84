// One simulated user: one authenticated socket that behaves like a careful client, through the
// client library (client/): its connection reconnects after every kind of drop with back-off and
// jitter, honouring `server:draining` and RATE_LIMITED; its outbox sends with the same
// clientMsgId on every try, retrying transient errors; its streams catch each conversation up
// with `conversation:sync` after a reconnection. Both in the library's unordered modes: sends go
// out at once rather than one per conversation at a time, and every arrival (live or synced,
// repeats included) is counted as it comes, because the load generator measures the server's
// delivery, not the app-visible order. Sampled users report delivered and read watermarks
// periodically instead of per message.
import jwt from 'jsonwebtoken';
import { createClient, type ClientError, type ClientSocket, type Connection, type RelaygateClient } from '../client/src/index.js';
import type { ClientEventName, Message, OkDataOf, PayloadOf } from '../protocol/index.js';
import type { LoadOptions } from './options.js';
import type { Stats } from './stats.js';
import type { ConvInfo, Tracker } from './tracker.js';

export type { ClientSocket };

export interface SimUserContext {
  opts: LoadOptions;
  stats: Stats;
  tracker: Tracker;
  /** True once the run is shutting down: no reconnects, no receipts. */
  stopping(): boolean;
}

interface ConnectError extends Error {
  data?: { code?: string };
}

/** An error's key in the report: the server's code, or TIMEOUT / DISCONNECTED / OFFLINE when the client decided. */
export const errorCode = (err: ClientError): string => err.local?.toUpperCase() ?? err.code;

export function userIdOf(runId: string, index: number): string {
  return `${runId}-u${index}`;
}

export class SimUser {
  readonly userId: string;
  readonly client: RelaygateClient;
  readonly connection: Connection;
  readonly socket: ClientSocket;
  readonly conversations: ConvInfo[] = [];
  /** Highest seq seen per conversation (live or synced). */
  readonly highestSeq = new Map<string, number>();
  private readonly reported = new Map<string, number>();
  private receiptTimer: NodeJS.Timeout | undefined;
  private firstConnect: Promise<void> | undefined;
  private msgCounter = 0;

  constructor(
    readonly index: number,
    readonly url: string,
    private readonly ctx: SimUserContext,
    readonly sendsReceipts: boolean,
  ) {
    const { opts, stats } = ctx;
    this.userId = userIdOf(opts.runId, index);
    this.client = createClient({
      url,
      // Valid past the end of the run, so never refreshed ahead.
      token: () => this.mintToken(),
      refreshBeforeExpiryMs: 0,
      reconnect: { minMs: 500, maxMs: 5_000 },
      retry: { minMs: 200, maxMs: 2_000 },
      callTimeoutMs: opts.ackTimeoutMs,
      orderedSends: false,
      watermarks: false,
      sendAttempts: opts.sendAttempts,
      autoConnect: false,
      socket: { transports: opts.transports, timeout: 20_000 },
    });
    this.connection = this.client.connection;
    this.socket = this.connection.socket;
    this.client.on('sent', ({ duplicate }) => {
      // A retry after a lost ack finds the original stored: duplicate, not an error.
      if (duplicate) stats.duplicateAcks++;
    });
    this.client.on('sendError', ({ error }) => stats.error(`message:send:${errorCode(error)}`));
    this.socket.on('receipt', () => void stats.receiptsReceived++);
    this.socket.on('disconnect', () => {
      if (!ctx.stopping()) stats.disconnects++;
    });
    this.connection.on('connect', ({ resumed }) => {
      if (resumed) stats.reconnects++; // the library syncs every followed conversation
    });
    this.socket.on('connect_error', (err: ConnectError) => {
      if (!ctx.stopping()) stats.error(`connect:${err.data?.code ?? 'TRANSPORT'}`);
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
      this.client.connect();
    });
    return this.firstConnect;
  }

  /** Follows every conversation of the user (just created: nothing to catch up yet); the library syncs them after each reconnection. */
  follow(): void {
    for (const conv of this.conversations) {
      this.client.subscribe(conv.id, { onMessage: (m, via) => this.onMessage(m, via), onUpdate: () => void this.ctx.stats.updatesReceived++ }, { ordered: false, skipInitialSync: true });
    }
  }

  /** A client event through the library, retrying transient errors; each failed try counts as an error. Rejects with the last ClientError. */
  call<E extends ClientEventName>(event: E, payload: PayloadOf<E>, attempts = 5): Promise<OkDataOf<E>> {
    return this.connection.call(event, payload, { attempts, onError: (err) => this.ctx.stats.error(`${event}:${errorCode(err)}`) });
  }

  private onMessage(message: Message, via: 'live' | 'sync'): void {
    const prev = this.highestSeq.get(message.conversationId) ?? 0;
    if (message.seq > prev) this.highestSeq.set(message.conversationId, message.seq);
    this.ctx.tracker.onMessage(this.index, message, via, performance.now());
  }

  /** Reads the conversation after `afterSeq` (every message counts as seen); false when a page failed for good. */
  async syncConversation(conversationId: string, afterSeq: number, onPage?: (messages: Message[]) => void): Promise<boolean> {
    try {
      const onError = (err: ClientError) => this.ctx.stats.error(`conversation:sync:${errorCode(err)}`);
      for await (const page of this.client.read(conversationId, { afterSeq, onError })) {
        for (const m of page) this.onMessage(m, 'sync');
        onPage?.(page);
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Starts periodic delivered/read reports (sampled users only). */
  startReceipts(): void {
    if (!this.sendsReceipts || this.receiptTimer) return;
    const every = this.ctx.opts.receiptIntervalMs;
    const report = (event: 'message:delivered' | 'message:read', conversationId: string, seq: number) => {
      this.ctx.stats.receiptsSent++;
      this.connection.call(event, { conversationId, seq }).catch((err: ClientError) => this.ctx.stats.error(`${event}:${errorCode(err)}`));
    };
    const tick = () => {
      if (this.ctx.stopping() || !this.connected) return;
      for (const [conversationId, seq] of this.highestSeq) {
        if ((this.reported.get(conversationId) ?? 0) >= seq) continue;
        this.reported.set(conversationId, seq);
        report('message:delivered', conversationId, seq);
        if (Math.random() < this.ctx.opts.readRatio) report('message:read', conversationId, seq);
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
    this.client.close();
    this.socket.removeAllListeners();
  }
}
