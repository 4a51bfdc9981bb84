// The client events, each a thin call into the domain; limits per event family.
import type { Messaging } from '../messaging/index.js';
import type { Limiter } from '../messaging/ports.js';
import type { EventHandlers } from './handlers.js';

export function createEventHandlers(messaging: Messaging, limiter: Limiter): EventHandlers {
  const { conversations, messages } = messaging;
  const membership = (userId: string) => limiter.consume('membership', userId);

  return {
    'conversation:create': async ({ userId }, p) => {
      await membership(userId);
      return { conversation: await conversations.create(userId, p) };
    },
    'conversation:join': async ({ userId }, p) => {
      await membership(userId);
      return conversations.join(userId, p.conversationId);
    },
    'conversation:leave': async ({ userId }, p) => {
      await membership(userId);
      await conversations.leave(userId, p.conversationId);
      return {};
    },
    'conversation:addMembers': async ({ userId }, p) => {
      await membership(userId);
      return { added: await conversations.addMembers(userId, p) };
    },
    'conversation:removeMember': async ({ userId }, p) => {
      await membership(userId);
      await conversations.removeMember(userId, p.conversationId, p.userId);
      return {};
    },
    'conversation:setRole': async ({ userId }, p) => {
      await membership(userId);
      await conversations.setRole(userId, p);
      return {};
    },
    'message:send': async ({ userId }, p) => messages.send(userId, p),
    'message:delivered': async ({ userId }, p) => {
      await messages.acknowledge(userId, 'delivered', p);
      return {};
    },
    'message:read': async ({ userId }, p) => {
      await messages.acknowledge(userId, 'read', p);
      return {};
    },
    'conversation:sync': async ({ userId }, p) => {
      await limiter.consume('read', userId);
      return messages.sync(userId, p);
    },
    typing: async ({ userId }, p) => {
      await messages.typing(userId, p);
      return {};
    },
  };
}
