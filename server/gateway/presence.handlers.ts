// `presence:subscribe` (§9): the socket's watched set is a set of `p:<userId>` rooms on this
// node, so a `presence` event emitted to that room on any node reaches it through the adapter
// and nothing is kept per watcher in Redis. A new subscription replaces the previous set.
import type { Presence } from '../../protocol/index.js';
import type { Limiter } from '../messaging/ports.js';
import type { PresenceStore } from '../presence/presence-store.js';
import type { EventHandlers } from './register.js';
import { presenceRoom } from './rooms.js';
import type { GatewayServer, GatewaySocket } from './types.js';

export function createPresenceHandlers(deps: { presence: PresenceStore; limiter: Limiter }): Pick<EventHandlers, 'presence:subscribe'> {
  return {
    'presence:subscribe': async ({ socket, userId }, p) => {
      await deps.limiter.consume('presence', userId);
      watch(socket, p.userIds);
      return { presence: await deps.presence.lookup(p.userIds, userId) };
    },
  };
}

/** Replaces the rooms of the socket's watched set (the schema bounds its size). */
export function watch(socket: GatewaySocket, userIds: readonly string[]): void {
  const wanted = new Set(userIds.map(presenceRoom));
  for (const room of socket.rooms) if (room.startsWith('p:') && !wanted.has(room)) void socket.leave(room);
  void socket.join([...wanted]);
}

/** Tells every node's watchers of the user. */
export function emitPresence(io: GatewayServer): (presence: Presence) => void {
  return (presence) => io.to(presenceRoom(presence.userId)).emit('presence', presence);
}
