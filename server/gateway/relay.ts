// Relay mode: the same Socket.IO stack and Redis adapter, but sends are acknowledged at once
// and emitted straight to the room — no store, no queue. It measures the transport ceiling
// that the real pipeline is compared against (BENCHMARKS.md). Never for production.
import { randomUUID } from 'node:crypto';
import {
  CLIENT_EVENTS,
  type Conversation,
  type Message,
} from '../../protocol/index.js';
import { conversationRoom, userRoom } from './rooms.js';
import type { GatewayServer, GatewaySocket } from './types.js';

let seq = 0;

export function registerRelayHandlers(socket: GatewaySocket, io: GatewayServer): void {
  const userId = socket.data.userId;
  const bad = (ack: unknown, message: string) =>
    typeof ack === 'function' && ack({ ok: false, error: { code: 'INVALID_ARGUMENT', message } });

  socket.on('conversation:create', (payload, ack) => {
    const parsed = CLIENT_EVENTS['conversation:create'].payload.safeParse(payload);
    if (!parsed.success) return void bad(ack, 'invalid payload');
    const p = parsed.data;
    const conversation: Conversation = {
      id: randomUUID().replaceAll('-', ''),
      type: p.type,
      ...(p.type !== 'direct' ? { title: p.title } : {}),
      createdBy: userId,
      createdAt: new Date().toISOString(),
      lastSeq: 0,
      public: p.type !== 'direct' && Boolean(p.public),
    };
    const members = p.type === 'direct' ? [userId, p.peerId] : [userId, ...(p.memberIds ?? [])];
    io.in(members.map(userRoom)).socketsJoin(conversationRoom(conversation.id));
    ack({ ok: true, conversation });
  });

  // Membership changes only move room subscriptions (nothing is stored), so the load
  // generator can build the same population (large channels, channel posters) against a relay.
  socket.on('conversation:addMembers', (payload, ack) => {
    const parsed = CLIENT_EVENTS['conversation:addMembers'].payload.safeParse(payload);
    if (!parsed.success) return void bad(ack, 'invalid payload');
    const { conversationId, userIds } = parsed.data;
    io.in(userIds.map(userRoom)).socketsJoin(conversationRoom(conversationId));
    ack({ ok: true, added: userIds });
  });
  socket.on('conversation:setRole', (payload, ack) => {
    if (!CLIENT_EVENTS['conversation:setRole'].payload.safeParse(payload).success) return void bad(ack, 'invalid payload');
    ack({ ok: true });
  });

  socket.on('message:send', (payload, ack) => {
    const parsed = CLIENT_EVENTS['message:send'].payload.safeParse(payload);
    if (!parsed.success) return void bad(ack, 'invalid payload');
    const p = parsed.data;
    const message: Message = {
      id: randomUUID().replaceAll('-', ''),
      conversationId: p.conversationId,
      seq: ++seq,
      senderId: userId,
      clientMsgId: p.clientMsgId,
      kind: p.kind,
      ...(p.text !== undefined ? { text: p.text } : {}),
      createdAt: new Date().toISOString(),
    };
    ack({ ok: true, message, duplicate: false });
    io.to(conversationRoom(p.conversationId)).emit('message:new', { message });
  });

  // Receipts fan out to the room as in the pipeline (without the watermark write), so both
  // modes carry the same socket traffic for the same client behaviour.
  for (const type of ['delivered', 'read'] as const) {
    socket.on(`message:${type}`, (payload, ack) => {
      const parsed = CLIENT_EVENTS[`message:${type}`].payload.safeParse(payload);
      if (!parsed.success) return void bad(ack, 'invalid payload');
      ack({ ok: true });
      io.to(conversationRoom(parsed.data.conversationId)).emit('receipt', { ...parsed.data, userId, type });
    });
  }

  for (const event of ['typing', 'conversation:leave'] as const) {
    socket.on(event, (_payload: unknown, ack: unknown) => typeof ack === 'function' && ack({ ok: true }));
  }
  socket.on('conversation:sync', (_payload, ack) => typeof ack === 'function' && ack({ ok: true, messages: [], hasMore: false }));
}
