// The domain's Realtime port over Socket.IO: room changes and broadcasts go through the Redis
// adapter, so they take effect on every node.
import type { Message } from '../../protocol/index.js';
import type { Realtime } from '../messaging/ports.js';
import { conversationRoom, userRoom } from './rooms.js';
import type { GatewayServer } from './types.js';

/** How long a membership change waits for every node to confirm it. */
const MEMBERSHIP_BARRIER_MS = 2_000;

export interface RealtimeOptions {
  /** Told when a node did not confirm a membership change in time (its cache expires on its own). */
  onBarrierTimeout?: (conversationId: string, err: unknown) => void;
  /** The adapter's subscriber connection: its `close` and `ready` are the node's link to notices. */
  link?: { on(event: 'close' | 'ready', listener: () => void): unknown };
}

export function createRealtime(io: GatewayServer, opts: RealtimeOptions = {}): Realtime & { publishMessage(message: Message, event?: 'message:new' | 'message:updated'): void } {
  const listeners: ((conversationId: string) => void)[] = [];
  const notify = (conversationId: string) => {
    for (const listener of listeners) listener(conversationId);
  };
  const linkListeners: ((up: boolean) => void)[] = [];
  for (const [event, up] of [['close', false], ['ready', true]] as const) opts.link?.on(event, () => linkListeners.forEach((l) => l(up)));
  // Another node changed a membership: it waits for this answer before acknowledging. Room
  // joins and leaves travel on the same adapter channel before this notice, so they are
  // applied here by the time it is answered.
  io.on('membership:changed', (conversationId, done) => {
    if (typeof conversationId === 'string') notify(conversationId);
    if (typeof done === 'function') done(true);
  });

  return {
    async membershipChanged(conversationId) {
      notify(conversationId);
      try {
        await confirmOnEveryNode(io, conversationId);
      } catch (err) {
        opts.onBarrierTimeout?.(conversationId, err);
      }
    },
    onMembershipChanged(listener) {
      listeners.push(listener);
    },
    onLinkChanged(listener) {
      linkListeners.push(listener);
    },
    subscribe(userIds, conversationId) {
      if (userIds.length) joinEverywhere(io, userIds, conversationId);
    },
    unsubscribe(userIds, conversationId) {
      if (userIds.length) leaveEverywhere(io, userIds, conversationId);
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
    publishMessage(message, event = 'message:new') {
      io.to(conversationRoom(message.conversationId)).emit(event, { message });
    },
  };
}

// The classic Redis adapter applies socketsJoin/Leave on every node, this one included, only
// when the request comes back from Redis; so the change is applied here at once as well (the
// echo is idempotent), and on the other nodes before they answer a later barrier.
export function joinEverywhere(io: GatewayServer, userIds: string[], conversationId: string): void {
  io.local.in(userIds.map(userRoom)).socketsJoin(conversationRoom(conversationId));
  io.in(userIds.map(userRoom)).socketsJoin(conversationRoom(conversationId));
}

export function leaveEverywhere(io: GatewayServer, userIds: string[], conversationId: string): void {
  io.local.in(userIds.map(userRoom)).socketsLeave(conversationRoom(conversationId));
  io.in(userIds.map(userRoom)).socketsLeave(conversationRoom(conversationId));
}

/**
 * Resolves once every other gateway node has answered a `membership:changed` notice for the
 * conversation, i.e. has applied the room changes published before it; rejects after
 * MEMBERSHIP_BARRIER_MS. (The adapter's own request timeout is longer.)
 */
export async function confirmOnEveryNode(io: GatewayServer, conversationId: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not every node confirmed within ${MEMBERSHIP_BARRIER_MS} ms`)), MEMBERSHIP_BARRIER_MS);
  });
  try {
    await Promise.race([io.serverSideEmitWithAck('membership:changed', conversationId), late]);
  } finally {
    clearTimeout(timer);
  }
}
