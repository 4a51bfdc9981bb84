// The conversation events (create, join, leave, add, remove, set role), each a thin call into the
// domain, which takes the `membership` rate-limit point and puts the change in force.
import type { Messaging } from '../messaging/index.js';
import type { EventHandlers } from './register.js';

export type ConversationEventName =
  | 'conversation:create'
  | 'conversation:join'
  | 'conversation:leave'
  | 'conversation:addMembers'
  | 'conversation:removeMember'
  | 'conversation:setRole';

export function createConversationHandlers(messaging: Messaging): Pick<EventHandlers, ConversationEventName> {
  const { conversations } = messaging;

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
  };
}
