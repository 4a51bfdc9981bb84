// Relay mode (RELAY_MODE=1): the same Socket.IO stack, Redis adapter and registration path
// (parse → handler → exactly one ack), but sends are acknowledged at once and emitted straight
// to the room — no store, no queue, no rate limits beyond the handshake's. It measures the
// transport ceiling that the real pipeline is compared against (BENCHMARKS.md). Never for
// production. Membership events only move room subscriptions, so the load generator can build
// the same population (large channels, channel posters) against a relay.
import { randomUUID } from 'node:crypto';
import type { Conversation, Message } from '../../protocol/index.js';
import { AppError } from '../errors.js';
import type { EventHandlers } from './register.js';
import { confirmOnEveryNode, joinEverywhere, leaveEverywhere } from './realtime.js';
import { conversationRoom } from './rooms.js';
import type { GatewayServer } from './types.js';

const newId = () => randomUUID().replaceAll('-', '');

/**
 * Broadcasts after the ack has gone out (the ack is sent in the microtasks that follow the
 * handler; this runs on the next turn), as in the pipeline, where the worker emits later.
 */
const afterAck = (emit: () => void) => void setImmediate(emit);

const noStoredMessages = async (): Promise<never> => {
  throw new AppError('NOT_FOUND', 'message not found (relay mode stores no messages)');
};

export function createRelayHandlers(io: GatewayServer): EventHandlers {
  // Per node and process; a relay keeps no conversations, so seq only orders this node's sends.
  let seq = 0;
  // As in the pipeline, a membership change is in force on every node when it is answered.
  const settled = (conversationId: string) => confirmOnEveryNode(io, conversationId).catch(() => {});
  const join = (userIds: string[], conversationId: string) => (joinEverywhere(io, userIds, conversationId), settled(conversationId));
  const leave = (userIds: string[], conversationId: string) => (leaveEverywhere(io, userIds, conversationId), settled(conversationId));

  return {
    'conversation:create': async ({ userId }, p) => {
      const conversation: Conversation = {
        id: newId(),
        type: p.type,
        ...(p.type !== 'direct' ? { title: p.title } : {}),
        createdBy: userId,
        createdAt: new Date().toISOString(),
        lastSeq: 0,
        public: p.type !== 'direct' && Boolean(p.public),
      };
      await join(p.type === 'direct' ? [userId, p.peerId] : [userId, ...(p.memberIds ?? [])], conversation.id);
      return { conversation };
    },
    // Nothing is stored, so there is no conversation to find and join.
    'conversation:join': async () => {
      throw new AppError('NOT_FOUND', 'conversation not found (relay mode stores no conversations)');
    },
    'conversation:leave': async ({ userId }, p) => {
      await leave([userId], p.conversationId);
      return {};
    },
    'conversation:addMembers': async (_ctx, p) => {
      await join(p.userIds, p.conversationId);
      return { added: p.userIds };
    },
    'conversation:removeMember': async (_ctx, p) => {
      await leave([p.userId], p.conversationId);
      return {};
    },
    'conversation:setRole': async () => ({}),
    'message:send': async ({ userId }, p) => {
      const message: Message = {
        id: newId(),
        conversationId: p.conversationId,
        seq: ++seq,
        senderId: userId,
        clientMsgId: p.clientMsgId,
        kind: p.kind,
        ...(p.text !== undefined ? { text: p.text } : {}),
        createdAt: new Date().toISOString(),
      };
      afterAck(() => io.to(conversationRoom(p.conversationId)).emit('message:new', { message }));
      return { message, duplicate: false };
    },
    // Receipts fan out to the room as in the pipeline (without the watermark write), so both
    // modes carry the same socket traffic for the same client behaviour.
    'message:delivered': async ({ userId }, p) => {
      afterAck(() => io.to(conversationRoom(p.conversationId)).emit('receipt', { ...p, userId, type: 'delivered' }));
      return {};
    },
    'message:read': async ({ userId }, p) => {
      afterAck(() => io.to(conversationRoom(p.conversationId)).emit('receipt', { ...p, userId, type: 'read' }));
      return {};
    },
    'conversation:sync': async () => ({ messages: [], hasMore: false }),
    typing: async () => ({}),
    // Nothing is stored, so there is no message to change.
    'message:edit': noStoredMessages,
    'message:delete': noStoredMessages,
    'message:react': noStoredMessages,
    // A relay keeps no presence: everyone watched reads as offline.
    'presence:subscribe': async (_ctx, p) => ({ presence: [...new Set(p.userIds)].map((userId) => ({ userId, online: false })) }),
  };
}
