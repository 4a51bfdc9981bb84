import type { z } from 'zod';
import type { Ack } from './errors.js';
import type { CLIENT_EVENTS, ClientEventName, SERVER_EVENTS, ServerEventName } from './schemas/events.js';

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

/**
 * Server -> client events, derived from `SERVER_EVENTS` so the types cannot drift from the
 * schemas or from the AsyncAPI document built from them.
 */
export type ServerToClientEvents = {
  [E in ServerEventName]: (data: z.output<(typeof SERVER_EVENTS)[E]>) => void;
};

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
