import type { z } from 'zod';
import type { Ack } from './errors.js';
import type { CLIENT_EVENTS, ClientEventName } from './schemas/events.js';
import type {
  ConversationUpdated,
  MessageNew,
  Receipt,
  TypingEvent,
} from './schemas/events.js';

/** Input type of the payload of client event `E` (what a client may send). */
export type PayloadOf<E extends ClientEventName> = z.input<(typeof CLIENT_EVENTS)[E]['payload']>;
/** Parsed payload of client event `E` (what the server handler receives). */
export type ParsedPayloadOf<E extends ClientEventName> = z.output<(typeof CLIENT_EVENTS)[E]['payload']>;
/** Acknowledgement of client event `E`. */
export type AckOf<E extends ClientEventName> = z.output<(typeof CLIENT_EVENTS)[E]['ack']>;
/** Ok data of client event `E`, without the `ok` flag. */
export type OkDataOf<E extends ClientEventName> = Omit<Extract<AckOf<E>, { ok: true }>, 'ok'>;

/**
 * Client -> server events, as Socket.IO listener signatures with the ack callback last.
 *
 * @example
 * const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth: { token } });
 * const res = await socket.emitWithAck('conversation:sync', { conversationId, afterSeq: 41 });
 */
export type ClientToServerEvents = {
  [E in ClientEventName]: (payload: PayloadOf<E>, ack: (res: AckOf<E>) => void) => void;
};

/** Server -> client events. */
export interface ServerToClientEvents {
  'message:new': (data: MessageNew) => void;
  receipt: (data: Receipt) => void;
  'conversation:updated': (data: ConversationUpdated) => void;
  typing: (data: TypingEvent) => void;
  'session:expired': (data: Record<string, never>) => void;
  /** Extension: sent before a node shuts down; reconnect (to another node) after a jittered delay. */
  'server:draining': (data: { reconnectAfterMs: number }) => void;
}

/** Node-to-node events over the Redis adapter (none yet beyond Socket.IO's own). */
export type InterServerEvents = Record<string, never>;

/** What the server keeps on each socket once the handshake is authenticated. */
export interface SocketData {
  userId: string;
  roles: string[];
  /** Token expiry, epoch milliseconds. */
  expiresAt: number;
  /** Correlation id of this connection in the logs. */
  connId: string;
}

export type { Ack };
