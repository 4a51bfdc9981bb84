// The composition root: one connection, and on it the per-conversation streams, the outbox,
// receipts, typing and the REST helpers. Every reconnection syncs each stream, resumes the
// outbox and flushes receipts; a drop marks every stream as not caught up.
import type { ConversationUpdated, Message, Receipt, TypingEvent } from '../../protocol/index.js';
import { Connection, type CallOptions, type ConnectionOptions, type ConnectionState } from './connection.js';
import { Emitter } from './emitter.js';
import type { ClientError } from './errors.js';
import { memoryOutbox, Outbox, type OutboxPersistence, type PendingSend, type SendBody } from './outbox.js';
import { MemberWatermarks, ReceiptReporter, TypingThrottle, type MemberWatermark } from './receipts.js';
import { createRest, type RestApi } from './rest.js';
import { ConversationStream, type StreamHandlers } from './stream.js';

export interface ClientOptions extends ConnectionOptions {
  /** Where pending sends survive restarts; default in memory (use `localStorageOutbox` in the browser). */
  outbox?: OutboxPersistence;
  /** How long a seq gap may stay open before a sync closes it; default 500 ms. */
  gapWaitMs?: number;
  /** Receipts: at most one event per conversation and type per interval; default 500 ms. */
  receiptIntervalMs?: number;
  /** `typing: true` at most once per period per conversation; default 3 s. */
  typingThrottleMs?: number;
  /**
   * Send each conversation's messages one at a time, in order (default). false: every send goes
   * out at once on its own, as a load generator wants; the server then orders by arrival.
   */
  orderedSends?: boolean;
  /** Tries per send before a transient error fails it (`sendFailed`); default unlimited: retried until stored. */
  sendAttempts?: number;
  /**
   * Keep other members' watermarks (`watermarks()`; `receipt` only when one moved); default
   * true. false spares the per-message bookkeeping when nothing shows ticks (every receipt is emitted).
   */
  watermarks?: boolean;
  /** Connect at once; default true. */
  autoConnect?: boolean;
  fetch?: typeof fetch;
}

export interface ClientEvents {
  state: ConnectionState;
  /** A pending send was stored (also for sends restored from persistence); `duplicate`: an earlier try had stored it. */
  sent: { message: Message; pending: PendingSend; duplicate: boolean };
  /** A try of a pending send failed; `willRetry` false when it is final (`sendFailed` follows). */
  sendError: { error: ClientError; pending: PendingSend; willRetry: boolean };
  /** A pending send was refused for good; it will not be retried. */
  sendFailed: { error: ClientError; pending: PendingSend };
  /** Another member's watermark moved. */
  receipt: Receipt;
  typing: TypingEvent;
  conversation: ConversationUpdated;
}

export interface SubscribeOptions {
  /** Highest seq the app already has; default 0: the whole visible history. */
  afterSeq?: number;
  /** false: every arrival as it comes, unordered and with repeats, tagged live or sync (for load generators; see stream.ts). */
  ordered?: boolean;
  /** The app knows it has everything up to `afterSeq` now (say, it just created the conversation): sync only after the next reconnection or gap. */
  skipInitialSync?: boolean;
}

export interface Subscription {
  readonly conversationId: string;
  /** Highest seq below which the app has every message. */
  readonly lastSeq: number;
  readonly caughtUp: boolean;
  close(): void;
}

export class RelaygateClient extends Emitter<ClientEvents> {
  readonly connection: Connection;
  readonly rest: RestApi;
  private readonly streams = new Map<string, ConversationStream>();
  private readonly outbox: Outbox;
  private readonly receipts: ReceiptReporter;
  private readonly typingThrottle: TypingThrottle;
  private readonly members: MemberWatermarks | undefined;
  private readonly restored: Promise<PendingSend[]>;

  constructor(private readonly opts: ClientOptions) {
    super();
    const conn = (this.connection = new Connection(opts));
    const members = (this.members = opts.watermarks === false ? undefined : new MemberWatermarks());
    this.rest = createRest({
      baseUrl: opts.url ?? '',
      token: async (refresh) => (refresh ? opts.token('refused') : conn.currentToken()),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    this.outbox = new Outbox({
      send: (payload) => conn.call('message:send', payload),
      // Not on a draining node: it closes the socket next, and the sends go to the next node.
      isOnline: () => conn.online && conn.state !== 'draining',
      persistence: opts.outbox ?? memoryOutbox(),
      backoff: conn.retryBackoff,
      ordered: opts.orderedSends !== false,
      attempts: opts.sendAttempts ?? Infinity,
      onStored: (message, pending, duplicate) => this.emit('sent', { message, pending, duplicate }),
      onError: (error, pending, willRetry) => this.emit('sendError', { error, pending, willRetry }),
      onFailed: (error, pending) => this.emit('sendFailed', { error, pending }),
    });
    this.receipts = new ReceiptReporter(
      (type, conversationId, seq) => conn.call(type === 'read' ? 'message:read' : 'message:delivered', { conversationId, seq }),
      opts.receiptIntervalMs ?? 500,
    );
    this.typingThrottle = new TypingThrottle((conversationId, typing) => conn.call('typing', { conversationId, typing }), opts.typingThrottleMs ?? 3_000);

    const s = conn.socket;
    s.on('message:new', ({ message }) => this.streams.get(message.conversationId)?.live(message));
    s.on('message:updated', ({ message }) => this.streams.get(message.conversationId)?.updated(message));
    s.on('receipt', (r) => (!members || members.receipt(r)) && this.emit('receipt', r));
    s.on('typing', (t) => this.emit('typing', t));
    s.on('conversation:updated', (u) => {
      // Someone left or was removed: if it was this user, the sync is refused and the stream
      // ends with a discontinuity instead of waiting for messages that will not come.
      if (u.change?.action === 'removed' || u.change?.action === 'left') void this.streams.get(u.conversation.id)?.sync();
      this.emit('conversation', u);
    });
    conn.on('state', (state) => this.emit('state', state));
    conn.on('connect', () => {
      for (const stream of this.streams.values()) void stream.sync();
      this.outbox.resume();
      this.receipts.flush();
    });
    conn.on('disconnect', () => {
      for (const stream of this.streams.values()) stream.offline();
    });
    this.restored = this.outbox.restore();
    if (opts.autoConnect !== false) conn.start();
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  connect(): void {
    this.connection.start();
  }

  /**
   * Delivers the conversation's messages after `afterSeq` (default 0: all of them) to
   * `handlers.onMessage`, each once and in seq order, live and after every reconnection.
   */
  subscribe(conversationId: string, handlers: StreamHandlers, opts: SubscribeOptions = {}): Subscription {
    if (this.streams.has(conversationId)) throw new Error(`already subscribed to ${conversationId}`);
    const conn = this.connection;
    const members = this.members;
    const stream = new ConversationStream(
      conversationId,
      opts.afterSeq ?? 0,
      {
        sync: (id, afterSeq) => conn.call('conversation:sync', { conversationId: id, afterSeq, limit: 200 }),
        isOnline: () => conn.online,
        gapWaitMs: this.opts.gapWaitMs ?? 500,
        backoff: conn.retryBackoff,
        ordered: opts.ordered !== false,
      },
      members
        ? {
            ...handlers,
            onMessage: (m, via) => {
              members.message(m);
              handlers.onMessage(m, via);
            },
          }
        : handlers,
    );
    this.streams.set(conversationId, stream);
    if (!opts.skipInitialSync) void stream.sync();
    const streams = this.streams;
    return {
      conversationId,
      get lastSeq() {
        return stream.lastSeq;
      },
      get caughtUp() {
        return stream.caughtUp;
      },
      close() {
        stream.close();
        if (streams.get(conversationId) === stream) streams.delete(conversationId);
      },
    };
  }

  /** Queues a message; returns at once. `pending.stored` resolves with the stored message. */
  send(conversationId: string, body: SendBody, opts: { clientMsgId?: string } = {}): PendingSend {
    return this.outbox.send(conversationId, body, opts.clientMsgId);
  }

  /**
   * Reads a conversation after `afterSeq` over the socket (`conversation:sync`), page by page,
   * outside any subscription: a one-off catch-up or a check against the log. `attempts` and
   * `onError` apply to each page (default 5 tries).
   */
  async *read(conversationId: string, opts: { afterSeq?: number; limit?: number } & CallOptions = {}): AsyncGenerator<Message[]> {
    const call = { attempts: 5, ...opts };
    for (let after = opts.afterSeq ?? 0; ; ) {
      const page = await this.connection.call('conversation:sync', { conversationId, afterSeq: after, limit: opts.limit ?? 200 }, call);
      yield page.messages;
      if (!page.hasMore || page.messages.length === 0) return;
      after = page.messages.at(-1)!.seq;
    }
  }

  /** Every send not yet stored, restored ones included. */
  pending(): PendingSend[] {
    return this.outbox.pending();
  }

  /** Resolves with the sends a previous run left in the outbox (they are being sent again). */
  restoredSends(): Promise<PendingSend[]> {
    return this.restored;
  }

  markDelivered(conversationId: string, seq: number): void {
    this.receipts.mark('delivered', conversationId, seq);
  }

  markRead(conversationId: string, seq: number): void {
    this.receipts.mark('read', conversationId, seq);
  }

  typing(conversationId: string, typing: boolean): void {
    this.typingThrottle.set(conversationId, typing);
  }

  /** Other members' delivered/read watermarks, as receipts and their own messages reported them. */
  watermarks(conversationId: string): ReadonlyMap<string, MemberWatermark> {
    return this.members?.get(conversationId) ?? new Map();
  }

  close(): void {
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
    this.outbox.close();
    this.receipts.close();
    this.connection.close();
  }
}

export function createClient(opts: ClientOptions): RelaygateClient {
  return new RelaygateClient(opts);
}
