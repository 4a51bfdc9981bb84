// `message:new` and `message:updated` from a node without a Socket.IO server (ROLE=worker): published on the Redis
// adapter's channel, so every gateway node delivers it to the room's sockets.
import { randomUUID } from 'node:crypto';
import { Emitter } from '@socket.io/redis-emitter';
import type { Message, ServerToClientEvents } from '../../protocol/index.js';
import type { RedisClient } from '../redis.js';
import { conversationRoom } from './rooms.js';

export function createEmitterPublisher(pub: RedisClient, adapterKey: string): (message: Message, event?: 'message:new' | 'message:updated') => void {
  const emitter = new Emitter<ServerToClientEvents>(pub, { key: adapterKey });
  return (message, event = 'message:new') => void emitter.to(conversationRoom(message.conversationId)).emit(event, { message });
}

/** socket.io-adapter's ClusterAdapter message type of a broadcast, and socket.io-parser's EVENT packet. */
const BROADCAST = 3;
const EVENT = 2;
const NAMESPACE = '/';

/**
 * The same for the sharded adapter, which @socket.io/redis-emitter does not speak: SPUBLISH of
 * the adapter's own BROADCAST message on the room's channel (`<prefix>#/#<room>#`, the channel a
 * gateway in `dynamic` subscription mode subscribes to while it has sockets in the room), in the
 * adapter's JSON encoding (@socket.io/redis-adapter sharded-adapter.ts: computeChannel, encode).
 * server/test/cluster.int.test.ts runs a worker-only node against sharded gateways.
 */
export function createShardedEmitterPublisher(pub: RedisClient, adapterKey: string): (message: Message, event?: 'message:new' | 'message:updated') => void {
  const uid = `emitter-${randomUUID()}`;
  return (message, event = 'message:new') => {
    const room = conversationRoom(message.conversationId);
    const payload = JSON.stringify({
      uid,
      nsp: NAMESPACE,
      type: BROADCAST,
      data: {
        packet: { type: EVENT, nsp: NAMESPACE, data: [event, { message }] },
        opts: { rooms: [room], except: [], flags: {} },
      },
    });
    // Fire-and-forget like the emitter; a lost emit is recovered by the client's sync.
    pub.spublish(`${adapterKey}#${NAMESPACE}#${room}#`, payload).catch(() => {});
  };
}
