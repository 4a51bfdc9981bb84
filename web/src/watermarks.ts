// Receipts this device reports: the highest delivered and read seq per conversation, coalesced
// (one call per conversation and type per flush) and only ever moving forward. A failed call is
// retried on the next flush (the next message, or the reconnection).
export type WatermarkType = 'delivered' | 'read';
type Send = (type: WatermarkType, conversationId: string, seq: number) => Promise<void>;

const FLUSH_DELAY_MS = 100;

export class WatermarkReporter {
  private readonly wanted = new Map<string, number>();
  private readonly reported = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly send: Send) {}

  delivered(conversationId: string, seq: number): void {
    this.want('delivered', conversationId, seq);
  }

  read(conversationId: string, seq: number): void {
    this.want('read', conversationId, seq);
  }

  /** Sends everything not yet reported now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [key, seq] of this.wanted) {
      if ((this.reported.get(key) ?? 0) >= seq || this.inFlight.has(key)) continue;
      const [type, conversationId] = key.split('|') as [WatermarkType, string];
      this.inFlight.add(key);
      this.send(type, conversationId, seq).then(
        () => {
          this.inFlight.delete(key);
          this.reported.set(key, Math.max(this.reported.get(key) ?? 0, seq));
          if ((this.wanted.get(key) ?? 0) > seq) this.schedule();
        },
        () => this.inFlight.delete(key),
      );
    }
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private want(type: WatermarkType, conversationId: string, seq: number): void {
    const key = `${type}|${conversationId}`;
    if ((this.wanted.get(key) ?? 0) >= seq) return;
    this.wanted.set(key, seq);
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }
}
