// Sending with optimistic display: a pending row at once, `message:send` with a clientMsgId
// made here, and resends with the same clientMsgId (the server stores a message once) until it
// is acknowledged or refused for good.
import type { Message } from '../../protocol/index.js';
import type { Thread } from './chat-state.js';
import { CallError, type Connection } from './connection.js';

const RETRY_MS = 2_000;

/** Random clientMsgId; crypto.getRandomValues works on plain-http pages too (randomUUID does not). */
export function newClientMsgId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `w-${Date.now().toString(36)}-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export class Outbox {
  constructor(
    private readonly conn: Pick<Connection, 'call' | 'connected'>,
    /** The stored message, from the ack. */
    private readonly onStored: (message: Message) => void,
    /** A send was refused for good (the row shows ⚠). */
    private readonly onFailed: (thread: Thread) => void,
  ) {}

  /** Shows `text` as pending in `thread` and sends it. */
  send(thread: Thread, text: string): void {
    const clientMsgId = newClientMsgId();
    thread.addPending({ clientMsgId, conversationId: thread.conversationId, text, createdAt: new Date().toISOString(), status: 'pending' });
    void this.deliver(thread, clientMsgId, text);
  }

  /** A failed send, tried again by the user. */
  retry(thread: Thread, clientMsgId: string): void {
    const p = thread.retrying(clientMsgId);
    if (p) void this.deliver(thread, p.clientMsgId, p.text);
  }

  /** After a reconnection: everything still pending goes again. */
  resendAll(threads: Iterable<Thread>): void {
    for (const thread of threads) for (const p of thread.pending.values()) if (p.status === 'pending') void this.deliver(thread, p.clientMsgId, p.text);
  }

  private async deliver(thread: Thread, clientMsgId: string, text: string): Promise<void> {
    try {
      const { message } = await this.conn.call('message:send', { conversationId: thread.conversationId, clientMsgId, kind: 'text', text });
      this.onStored(message);
    } catch (err) {
      const wire = err instanceof CallError ? err.wire : { code: 'INTERNAL' as const, message: String(err) };
      // Offline: stays pending and goes again after the reconnection (resendAll).
      if (wire.code === 'UNAVAILABLE' && !this.conn.connected) return;
      if (wire.code === 'UNAVAILABLE' || wire.code === 'RATE_LIMITED') {
        setTimeout(() => {
          if (thread.pending.get(clientMsgId)?.status === 'pending') void this.deliver(thread, clientMsgId, text);
        }, wire.retryAfterMs ?? RETRY_MS);
        return;
      }
      thread.fail(clientMsgId, wire.message);
      this.onFailed(thread);
    }
  }
}
