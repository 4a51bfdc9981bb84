// Small helpers for chat scenarios in tests: typed acks that throw on error, message
// collection with de-duplication by id, and waiting for the delivery queue to drain.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { AckOf, ClientEventName, Message, OkDataOf, PayloadOf } from '../../../protocol/index.js';
import type { App } from '../../app.js';
import { DELIVERY_QUEUE, SYSTEM_QUEUE } from '../../delivery/queue.js';
import { record, type ClientSocket } from './clients.js';

/** Emits and returns the ok data; throws with the wire error otherwise. */
export async function call<E extends ClientEventName>(socket: ClientSocket, event: E, payload: PayloadOf<E>): Promise<OkDataOf<E>> {
  const res = (await (socket.emitWithAck as (e: string, p: unknown) => Promise<AckOf<E>>)(event, payload)) as AckOf<E>;
  if (!res.ok) throw Object.assign(new Error(`${event}: ${res.error.code} ${res.error.message}`), { wire: res.error });
  const { ok: _ok, ...data } = res as { ok: true } & OkDataOf<E>;
  return data as OkDataOf<E>;
}

/** Emits and returns the raw ack (for asserting on errors). */
export function raw<E extends ClientEventName>(socket: ClientSocket, event: E, payload: unknown): Promise<AckOf<E>> {
  return (socket.emitWithAck as (e: string, p: unknown) => Promise<AckOf<E>>)(event, payload);
}

/** Every `message:new` a socket receives, keyed by message id. */
export function inbox(socket: ClientSocket) {
  const rec = record(socket, 'message:new');
  const byId = () => {
    const m = new Map<string, Message>();
    for (const { message } of rec.items) m.set(message.id, message);
    return m;
  };
  return {
    /** Raw events, duplicates included. */
    events: rec.items,
    byId,
    until: rec.until,
    count: (messageId: string) => rec.items.filter((e) => e.message.id === messageId).length,
    /** Resolves when every id has arrived at least once. */
    hasAll: (ids: Iterable<string>, timeoutMs?: number) => {
      const want = [...ids];
      return rec.until(() => {
        const have = byId();
        return want.every((id) => have.has(id));
      }, timeoutMs);
    },
  };
}

/** Waits until both delivery lanes of a prefix have nothing waiting, prioritized, delayed or active. */
export async function queueDrained(redisUrl: string, prefix: string, timeoutMs = 20_000): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const lanes = [DELIVERY_QUEUE, SYSTEM_QUEUE].map((name) => new Queue(name, { connection, prefix }));
  try {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(lanes.map((q) => q.getJobCounts('waiting', 'prioritized', 'delayed', 'active')));
      if (counts.every((c) => Object.values(c).every((n) => n === 0))) return;
      if (Date.now() > until) throw new Error(`queue not drained: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await Promise.all(lanes.map((q) => q.close()));
    await connection.quit();
  }
}

/** Every message of a conversation as the store holds it, read (all pages) as a member who saw it all. */
export async function storedMessages(app: App, userId: string, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  let afterSeq = 0;
  for (;;) {
    const page = await app.messaging!.messages.sync(userId, { conversationId, afterSeq, limit: 200 });
    out.push(...page.messages);
    if (!page.hasMore) return out;
    afterSeq = page.messages[page.messages.length - 1]!.seq;
  }
}

let n = 0;
export const clientMsgId = (tag = 'm') => `${tag}-${process.pid}-${Date.now().toString(36)}-${++n}`;
