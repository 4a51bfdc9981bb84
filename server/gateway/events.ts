// The client events, each a thin call into the domain (which takes the rate-limit points).
import { jobIdFor } from '../delivery/queue.js';
import type { Messaging } from '../messaging/index.js';
import type { EventHandlers } from './handlers.js';

export function createEventHandlers(messaging: Messaging): EventHandlers {
  const { conversations, messages } = messaging;

  return {
    'conversation:create': async ({ userId }, p) => ({ conversation: await conversations.create(userId, p) }),
    'conversation:join': async ({ userId }, p) => conversations.join(userId, p.conversationId),
    'conversation:leave': async ({ userId }, p) => {
      await conversations.leave(userId, p.conversationId);
      return {};
    },
    'conversation:addMembers': async ({ userId }, p) => ({ added: await conversations.addMembers(userId, p) }),
    'conversation:removeMember': async ({ userId }, p) => {
      await conversations.removeMember(userId, p.conversationId, p.userId);
      return {};
    },
    'conversation:setRole': async ({ userId }, p) => {
      await conversations.setRole(userId, p);
      return {};
    },
    'message:send': async ({ userId, log }, p) => {
      const result = await messages.send(userId, p);
      const { message } = result;
      // One line per accepted send on the connection's logger (which carries connId), naming
      // the message and its delivery job, so a send can be followed to the worker. Never the text.
      log.debug(
        { event: 'message:send', messageId: message.id, jobId: jobIdFor(message.id), conversationId: message.conversationId, seq: message.seq, duplicate: result.duplicate },
        'message accepted',
      );
      return result;
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
  };
}
