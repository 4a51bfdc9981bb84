import type { Server, Socket } from 'socket.io';
import type {
  ClientToServerEvents,
  ServerToClientEvents,
  SocketData,
} from '../../protocol/index.js';

/** Events between gateway nodes (serverSideEmit through the adapter), never seen by clients. */
export interface NodeEvents {
  /** A membership change: drop what is cached about the conversation, then answer. */
  'membership:changed': (conversationId: string, done: (ok: true) => void) => void;
}

export type GatewayServer = Server<ClientToServerEvents, ServerToClientEvents, NodeEvents, SocketData>;
export type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents, NodeEvents, SocketData>;
