import type { Store } from '../store/store.js';
import { createConversationService } from './conversations.service.js';
import { createMessageService } from './messages.service.js';
import type { DeliveryQueue, Limiter, Realtime } from './ports.js';
import { createWatermarkBatcher } from './watermarks.js';

export interface MessagingDeps {
  store: Store;
  realtime: Realtime;
  delivery: DeliveryQueue;
  limiter: Limiter;
  attachmentHosts: readonly string[];
}

/** The domain: one object that both the socket gateway and REST call. */
export function createMessaging(deps: MessagingDeps) {
  const watermarks = createWatermarkBatcher(deps.store);
  const conversations = createConversationService(deps);
  const messages = createMessageService({ ...deps, conversations, watermarks });
  return { conversations, messages, watermarks };
}

export type Messaging = ReturnType<typeof createMessaging>;
export type * from './ports.js';
