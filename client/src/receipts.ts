// Receipts both ways and typing. Outgoing: the highest delivered / read seq per conversation,
// only forward, coalesced to one event per conversation and type per interval; a failed call is
// retried at the next flush (the next mark or the reconnection). Typing: `true` at most once per
// throttle period, `false` only after a `true`. Incoming: each member's watermarks, raised by
// `receipt` events and by the member's own messages (sending moves the sender's watermarks up to
// its seq without a receipt event).
import type { Message, Receipt } from '../../protocol/index.js';
import { timer } from './timing.js';

export type ReceiptType = 'delivered' | 'read';

export class ReceiptReporter {
  private readonly wanted = new Map<string, number>();
  private readonly reported = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly send: (type: ReceiptType, conversationId: string, seq: number) => Promise<unknown>,
    private readonly intervalMs: number,
  ) {}

  mark(type: ReceiptType, conversationId: string, seq: number): void {
    const key = `${type}|${conversationId}`;
    if ((this.wanted.get(key) ?? 0) >= seq) return;
    this.wanted.set(key, seq);
    this.timer ??= timer(() => this.flush(), this.intervalMs);
  }

  /** Sends every watermark not reported yet. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [key, seq] of this.wanted) {
      if ((this.reported.get(key) ?? 0) >= seq || this.inFlight.has(key)) continue;
      const [type, conversationId] = key.split('|') as [ReceiptType, string];
      this.inFlight.add(key);
      this.send(type, conversationId, seq).then(
        () => {
          this.inFlight.delete(key);
          this.reported.set(key, Math.max(this.reported.get(key) ?? 0, seq));
          if ((this.wanted.get(key) ?? 0) > seq) this.timer ??= timer(() => this.flush(), this.intervalMs);
        },
        () => this.inFlight.delete(key),
      );
    }
  }

  close(): void {
    clearTimeout(this.timer);
  }
}

export class TypingThrottle {
  private readonly lastTrue = new Map<string, number>();

  constructor(
    private readonly send: (conversationId: string, typing: boolean) => Promise<unknown>,
    private readonly throttleMs: number,
  ) {}

  set(conversationId: string, typing: boolean): void {
    const last = this.lastTrue.get(conversationId);
    if (typing) {
      if (last !== undefined && Date.now() - last < this.throttleMs) return;
      this.lastTrue.set(conversationId, Date.now());
    } else {
      if (last === undefined) return;
      this.lastTrue.delete(conversationId);
    }
    this.send(conversationId, typing).catch(() => {}); // typing is best effort
  }
}

export interface MemberWatermark {
  delivered: number;
  read: number;
}

export class MemberWatermarks {
  private readonly byConversation = new Map<string, Map<string, MemberWatermark>>();

  get(conversationId: string): ReadonlyMap<string, MemberWatermark> {
    return this.byConversation.get(conversationId) ?? new Map();
  }

  /** Returns true when a watermark moved. */
  receipt(r: Receipt): boolean {
    return this.raise(r.conversationId, r.userId, r.type === 'delivered' ? r.seq : 0, r.type === 'read' ? r.seq : 0);
  }

  message(m: Message): boolean {
    return m.kind !== 'system' && this.raise(m.conversationId, m.senderId, m.seq, m.seq);
  }

  private raise(conversationId: string, userId: string, delivered: number, read: number): boolean {
    let members = this.byConversation.get(conversationId);
    if (!members) this.byConversation.set(conversationId, (members = new Map()));
    // Read implies delivered. Raised in place: this runs for every message.
    const d = Math.max(delivered, read);
    const w = members.get(userId);
    if (!w) return members.set(userId, { delivered: d, read }), d > 0;
    if (w.delivered >= d && w.read >= read) return false;
    w.delivered = Math.max(w.delivered, d);
    w.read = Math.max(w.read, read);
    return true;
  }
}
