// `message:new` and `message:updated` from a node without a Socket.IO server (ROLE=worker): published on the Redis
// adapter's channel, so every gateway node delivers it to the room's sockets.
import { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';
import type { Message, ServerToClientEvents } from '../../protocol/index.js';
import { conversationRoom } from './rooms.js';

export function createEmitterPublisher(pub: Redis, adapterKey: string): (message: Message, event?: 'message:new' | 'message:updated') => void {
  const emitter = new Emitter<ServerToClientEvents>(pub, { key: adapterKey });
  return (message, event = 'message:new') => void emitter.to(conversationRoom(message.conversationId)).emit(event, { message });
}
