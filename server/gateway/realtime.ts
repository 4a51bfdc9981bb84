// The domain's Realtime port over Socket.IO: room changes and broadcasts go through the Redis
// adapter, so they take effect on every node.
import type { Message } from '../../protocol/index.js';
import type { Realtime } from '../messaging/ports.js';
import { conversationRoom, userRoom } from './rooms.js';
import type { GatewayServer } from './types.js';

export function createRealtime(io: GatewayServer): Realtime & { publishMessage(message: Message): void } {
  return {
    subscribe(userIds, conversationId) {
      if (userIds.length) io.in(userIds.map(userRoom)).socketsJoin(conversationRoom(conversationId));
    },
    unsubscribe(userIds, conversationId) {
      if (userIds.length) io.in(userIds.map(userRoom)).socketsLeave(conversationRoom(conversationId));
    },
    conversationUpdated(conversationId, data, alsoUserIds = []) {
      io.to([conversationRoom(conversationId), ...alsoUserIds.map(userRoom)]).emit('conversation:updated', data);
    },
    receipt(data) {
      io.to(conversationRoom(data.conversationId)).emit('receipt', data);
    },
    typing(data) {
      io.to(conversationRoom(data.conversationId)).except(userRoom(data.userId)).emit('typing', data);
    },
    publishMessage(message) {
      io.to(conversationRoom(message.conversationId)).emit('message:new', { message });
    },
  };
}
