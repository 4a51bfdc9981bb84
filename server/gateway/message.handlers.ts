// The message events (send, receipts, sync, typing), each a thin call into the domain, which
// takes the rate-limit points and checks membership.
import type { Messaging } from '../messaging/index.js';
import type { EventHandlers } from './register.js';

export type MessageEventName =
  | 'message:send'
  | 'message:delivered'
  | 'message:read'
  | 'conversation:sync'
  | 'typing'
  | 'message:edit'
  | 'message:delete'
  | 'message:react';

export function createMessageHandlers(messaging: Messaging): Pick<EventHandlers, MessageEventName> {
  const { messages, changes } = messaging;

  return {
    'message:send': async ({ userId, log }, p) => {
      const { message, duplicate, deliveryId } = await messages.send(userId, p);
      // One line per accepted send on the connection's logger (which carries connId), naming
      // the message and its delivery job, so a send can be followed to the worker. Never the text.
      log.debug({ event: 'message:send', messageId: message.id, jobId: deliveryId, conversationId: message.conversationId, seq: message.seq, duplicate }, 'message accepted');
      return { message, duplicate };
    },
    'message:delivered': async ({ userId }, p) => {
      await messages.acknowledge(userId, 'delivered', p);
      return {};
    },
    'message:read': async ({ userId }, p) => {
      await messages.acknowledge(userId, 'read', p);
      return {};
    },
    'conversation:sync': async ({ userId }, p) => messages.sync(userId, p),
    typing: async ({ userId }, p) => {
      await messages.typing(userId, p);
      return {};
    },
    'message:edit': async ({ userId }, p) => changes.edit(userId, p),
    'message:delete': async ({ userId }, p) => {
      await changes.remove(userId, p);
      return {};
    },
    'message:react': async ({ userId }, p) => {
      await changes.react(userId, p);
      return {};
    },
  };
}
