// One conversation's messages as the app sees them: each exactly once, in seq order, with no
// hole the server could fill.
//
// `lastSeq` is the highest seq below which the app has everything. A live `message:new` at
// lastSeq + 1 is handed over at once (with whatever it makes contiguous); a later one waits in
// the buffer. seq is strictly increasing but not gap-free, so a gap may never fill: if it has not
// filled after `gapWaitMs`, `conversation:sync` from lastSeq decides. The server's sync is final
// below the last seq it returns (the Mongo store closes unfilled seqs before answering, the
// PostgreSQL store commits seqs in order), so lastSeq may jump to it and anything at or below
// lastSeq is a repeat: de-duplication by seq is de-duplication by id. The same sync runs after
// every reconnection. If the server refuses the range for good (NOT_FOUND, FORBIDDEN: access
// lost), the stream ends with a discontinuity event instead of a silent hole.
//
// Unordered (`ordered: false`, for load generators that measure the server, not for apps):
// every arrival is handed over as it comes, repeats and out-of-order ones included, lastSeq is
// the highest seq seen, and the sync after a reconnection pages on from there. No buffer, no gap
// sync: a hole left by a lost live message is not refilled.
import type { ErrorCode, Message, OkDataOf } from '../../protocol/index.js';
import { isTransient, type ClientError } from './errors.js';
import { backoffDelay, timer, type BackoffOptions } from './timing.js';

export interface Discontinuity {
  conversationId: string;
  /** Everything up to and including this seq was delivered; nothing after it will be. */
  afterSeq: number;
  code: ErrorCode;
  message: string;
}

/** How a message arrived: a live `message:new`, or a `conversation:sync` page. */
export type Arrival = 'live' | 'sync';

export interface StreamHandlers {
  /** Each message once, in seq order (unordered streams: every arrival). */
  onMessage(message: Message, via: Arrival): void;
  /**
   * The current state of a message already handed to `onMessage` (an edit, deletion or
   * reaction, PROTOCOL.md §9), live or found by a sync; may repeat, keep the highest `updatedSeq`.
   */
  onUpdate?(message: Message): void;
  /** false after a drop or when a gap needs a sync; true once contiguous with the server again. */
  onCaughtUp?(caughtUp: boolean): void;
  /** The server can no longer supply what follows `afterSeq`; the stream has ended. */
  onDiscontinuity?(d: Discontinuity): void;
}

export interface StreamDeps {
  sync(conversationId: string, afterSeq: number): Promise<OkDataOf<'conversation:sync'>>;
  isOnline(): boolean;
  /** How long a seq gap may stay open before a sync closes it. */
  gapWaitMs: number;
  backoff: BackoffOptions;
  /** false: every arrival at once, no buffer, no de-duplication (see above). */
  ordered: boolean;
}

export class ConversationStream {
  caughtUp = false;
  ended = false;
  private readonly buffer = new Map<number, Message>();
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private syncing = false;
  private again = false;
  private failures = 0;

  constructor(
    readonly conversationId: string,
    /** Highest seq the app already has (0: from the start). */
    public lastSeq: number,
    private readonly deps: StreamDeps,
    private readonly handlers: StreamHandlers,
  ) {}

  /** A live `message:new`. */
  live(m: Message): void {
    if (!this.deps.ordered) return this.ended ? undefined : this.deliver(m, 'live');
    if (this.ended || m.seq <= this.lastSeq || this.buffer.has(m.seq)) return;
    this.buffer.set(m.seq, m);
    this.drain();
    if (this.buffer.size > 0 && !this.syncing) this.gapTimer ??= timer(() => void this.sync(), this.deps.gapWaitMs);
  }

  /**
   * A live `message:updated`. A message not handed over yet takes its place in the buffer in
   * its current state. The change's own seq leaves a hole in message seqs that a sync closes
   * after `gapWaitMs` (the stream does not yet count change seqs as filled).
   */
  updated(m: Message): void {
    if (this.ended) return;
    if (m.seq <= this.lastSeq) return this.notify(m);
    this.buffer.set(m.seq, m);
    this.drain();
    if (this.buffer.size > 0 && !this.syncing) this.gapTimer ??= timer(() => void this.sync(), this.deps.gapWaitMs);
  }

  /** The socket dropped: not caught up until the sync after the reconnection. */
  offline(): void {
    clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
    this.setCaughtUp(false);
  }

  close(): void {
    this.ended = true;
    this.offline();
    clearTimeout(this.retryTimer);
    this.buffer.clear();
  }

  /** Fetches everything after lastSeq, page by page; one at a time (a request during one runs after it). */
  async sync(): Promise<void> {
    if (this.ended) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    clearTimeout(this.gapTimer);
    clearTimeout(this.retryTimer);
    this.gapTimer = undefined;
    if (!this.deps.isOnline()) return; // the reconnection syncs
    this.syncing = true;
    this.setCaughtUp(false);
    try {
      const ordered = this.deps.ordered;
      for (let after = this.lastSeq, hasMore = true; hasMore && !this.ended; ) {
        const page = await this.deps.sync(this.conversationId, after);
        for (const m of page.messages) {
          if (this.ended) break;
          // A sync also returns messages changed after `after` (§9), in their current state.
          if (!ordered || m.seq > this.lastSeq) this.deliver(m, 'sync');
          else if (m.updatedSeq !== undefined) this.notify(m);
        }
        for (const seq of this.buffer.keys()) if (seq <= this.lastSeq) this.buffer.delete(seq);
        this.drain();
        hasMore = page.hasMore && page.messages.length > 0;
        // Unordered, lastSeq may have moved past the page on a live arrival: page on from the page.
        // Ordered: on from the page's highest seq or updatedSeq (a page of changes alone moves it on too).
        after = ordered
          ? Math.max(this.lastSeq, ...page.messages.map((m) => m.updatedSeq ?? m.seq))
          : (page.messages.at(-1)?.seq ?? after);
      }
      this.failures = 0;
    } catch (err) {
      this.syncing = false;
      return this.failed(err as ClientError);
    }
    this.syncing = false;
    if (this.again) {
      this.again = false;
      return this.sync();
    }
    if (this.buffer.size > 0) this.gapTimer ??= timer(() => void this.sync(), this.deps.gapWaitMs);
    else this.setCaughtUp(!this.ended);
  }

  private failed(err: ClientError): void {
    if (this.ended) return;
    if (!isTransient(err)) {
      this.ended = true;
      this.buffer.clear();
      this.handlers.onDiscontinuity?.({ conversationId: this.conversationId, afterSeq: this.lastSeq, code: err.code, message: err.message });
      return;
    }
    // Offline: the reconnection syncs. Otherwise again after a back-off.
    if (this.deps.isOnline()) this.retryTimer = timer(() => void this.sync(), backoffDelay(this.failures++, this.deps.backoff));
  }

  private drain(): void {
    for (let next = this.buffer.get(this.lastSeq + 1); next; next = this.buffer.get(this.lastSeq + 1)) {
      this.buffer.delete(next.seq);
      this.deliver(next, 'live');
    }
    if (this.buffer.size === 0) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    }
  }

  private deliver(m: Message, via: Arrival): void {
    if (m.seq > this.lastSeq) this.lastSeq = m.seq;
    try {
      this.handlers.onMessage(m, via);
    } catch (err) {
      // The app's bug must not stall the stream; it still surfaces.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  private notify(m: Message): void {
    try {
      this.handlers.onUpdate?.(m);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  private setCaughtUp(value: boolean): void {
    if (this.caughtUp === value) return;
    this.caughtUp = value;
    this.handlers.onCaughtUp?.(value);
  }
}
