// Sends that survive drops and restarts: `send()` records the message (persistence first, so a
// restart finds it), returns a pending entry at once, and the pump sends each conversation's
// entries one at a time, in order, with the same clientMsgId until the server stores it (a
// repeat stores nothing and returns the original). Transient errors and drops retry with
// back-off; a permanent one rejects the entry once and forgets it.
//
// Unordered (`ordered: false`, for load generators): every entry is its own queue, so sends to
// one conversation go out at once instead of waiting for the previous ack; the server orders
// them by arrival. A bound on tries makes a transient error final after that many.
import type { Message, PayloadOf } from '../../protocol/index.js';
import { ClientError, isTransient } from './errors.js';
import { backoffDelay, sleep, type BackoffOptions } from './timing.js';

/** What to send: the `message:send` payload without the ids. */
export type SendBody = Omit<PayloadOf<'message:send'>, 'conversationId' | 'clientMsgId'>;

/** A send as persisted. */
export interface OutboxRecord {
  clientMsgId: string;
  conversationId: string;
  body: SendBody;
  createdAt: string;
}

/** A send not yet stored; `stored` resolves with the stored message or rejects with a permanent ClientError. */
export interface PendingSend extends OutboxRecord {
  readonly stored: Promise<Message>;
}

/** Where pending sends live between restarts. Calls may be synchronous or return promises. */
export interface OutboxPersistence {
  load(): OutboxRecord[] | Promise<OutboxRecord[]>;
  save(record: OutboxRecord): void | Promise<void>;
  remove(clientMsgId: string): void | Promise<void>;
}

/** Kept in memory: survives reconnections, not restarts (pass the same object to a new client to model one). */
export function memoryOutbox(): OutboxPersistence {
  const records = new Map<string, OutboxRecord>();
  return {
    load: () => [...records.values()],
    save: (r) => void records.set(r.clientMsgId, r),
    remove: (id) => void records.delete(id),
  };
}

/** The subset of the Web Storage API the adapter uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Kept in `localStorage` under `key` (one key per signed-in user). */
export function localStorageOutbox(key: string, storage: StorageLike | undefined = (globalThis as { localStorage?: StorageLike }).localStorage): OutboxPersistence {
  if (!storage) throw new Error('localStorageOutbox: no localStorage here');
  const read = (): OutboxRecord[] => {
    try {
      const v: unknown = JSON.parse(storage.getItem(key) ?? '[]');
      return Array.isArray(v) ? (v as OutboxRecord[]) : [];
    } catch {
      return [];
    }
  };
  const write = (records: OutboxRecord[]) => storage.setItem(key, JSON.stringify(records));
  return {
    load: read,
    save: (r) => write([...read().filter((x) => x.clientMsgId !== r.clientMsgId), r]),
    remove: (id) => write(read().filter((x) => x.clientMsgId !== id)),
  };
}

/** 1–64 characters of [A-Za-z0-9_-]; getRandomValues also works on plain-http pages (randomUUID does not). */
export function newClientMsgId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `c-${Date.now().toString(36)}-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

interface Entry extends PendingSend {
  saved: Promise<void>;
  /** Tries that reached the socket (an offline wait is not one). */
  tries: number;
  resolve(m: Message): void;
  reject(err: ClientError): void;
}

export interface OutboxDeps {
  send(payload: PayloadOf<'message:send'>): Promise<{ message: Message; duplicate: boolean }>;
  isOnline(): boolean;
  persistence: OutboxPersistence;
  backoff: BackoffOptions;
  /** One conversation's sends one at a time, in order (default); false: each on its own. */
  ordered: boolean;
  /** Tries before a transient error is final; Infinity: retried until stored. */
  attempts: number;
  onStored(message: Message, entry: PendingSend, duplicate: boolean): void;
  /** Every failed try; `willRetry` false when it is final (onFailed follows). */
  onError(error: ClientError, entry: PendingSend, willRetry: boolean): void;
  onFailed(error: ClientError, entry: PendingSend): void;
}

export class Outbox {
  /** Queues by lane: the conversation when ordered, else the clientMsgId. */
  private readonly queues = new Map<string, Entry[]>();
  private readonly running = new Set<string>();
  private closed = false;

  constructor(private readonly deps: OutboxDeps) {}

  private lane(r: OutboxRecord): string {
    return this.deps.ordered ? r.conversationId : r.clientMsgId;
  }

  /** Re-queues what a previous run left unsent. */
  async restore(): Promise<PendingSend[]> {
    const records = await this.deps.persistence.load();
    const known = new Set(this.pending().map((p) => p.clientMsgId));
    const restored = records.filter((r) => !known.has(r.clientMsgId)).map((r) => this.enqueue(r, Promise.resolve()));
    this.resume();
    return restored;
  }

  send(conversationId: string, body: SendBody, clientMsgId = newClientMsgId()): PendingSend {
    const record: OutboxRecord = { clientMsgId, conversationId, body, createdAt: new Date().toISOString() };
    const entry = this.enqueue(record, Promise.resolve().then(() => this.deps.persistence.save(record)));
    void this.pump(this.lane(record));
    return entry;
  }

  pending(): PendingSend[] {
    return [...this.queues.values()].flat();
  }

  /** After a (re)connection. */
  resume(): void {
    for (const lane of this.queues.keys()) void this.pump(lane);
  }

  close(): void {
    this.closed = true;
  }

  private enqueue(record: OutboxRecord, saved: Promise<void>): Entry {
    let resolve!: (m: Message) => void;
    let reject!: (err: ClientError) => void;
    const stored = new Promise<Message>((res, rej) => ((resolve = res), (reject = rej)));
    stored.catch(() => {}); // surfaced through onFailed too: an app that ignores `stored` gets no unhandled rejection
    const { clientMsgId, conversationId, body, createdAt } = record;
    const entry: Entry = { clientMsgId, conversationId, body, createdAt, stored, saved, tries: 0, resolve, reject };
    const lane = this.lane(record);
    const queue = this.queues.get(lane);
    if (queue) queue.push(entry);
    else this.queues.set(lane, [entry]);
    return entry;
  }

  private async pump(lane: string): Promise<void> {
    if (this.running.has(lane)) return;
    this.running.add(lane);
    try {
      const queue = this.queues.get(lane) ?? [];
      for (let attempt = 0; queue.length > 0 && !this.closed && this.deps.isOnline(); ) {
        const head = queue[0]!;
        try {
          await head.saved;
          const { message, duplicate } = await this.deps.send({ ...head.body, conversationId: head.conversationId, clientMsgId: head.clientMsgId } as PayloadOf<'message:send'>);
          attempt = 0;
          // The event first, so a listener sees it before the app's `stored` continuation runs.
          await this.settle(queue, head, () => (this.deps.onStored(message, head, duplicate), head.resolve(message)));
        } catch (err) {
          const error = err instanceof ClientError ? err : new ClientError({ code: 'INTERNAL', message: String(err) });
          if (error.local !== 'offline') head.tries++;
          const final = !isTransient(error) || head.tries >= this.deps.attempts;
          this.deps.onError(error, head, !final);
          if (final) {
            await this.settle(queue, head, () => (this.deps.onFailed(error, head), head.reject(error)));
          } else if (this.deps.isOnline()) {
            await sleep(Math.max(error.retryAfterMs ?? 0, backoffDelay(attempt++, this.deps.backoff)));
          }
        }
      }
      if (queue.length === 0) this.queues.delete(lane);
    } finally {
      this.running.delete(lane);
    }
  }

  private async settle(queue: Entry[], head: Entry, outcome: () => void): Promise<void> {
    queue.shift();
    await Promise.resolve(this.deps.persistence.remove(head.clientMsgId)).catch(() => {});
    outcome();
  }
}
