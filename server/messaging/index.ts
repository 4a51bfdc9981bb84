import type { Store } from '../store/store.js';
import { createAccessCache } from './access-cache.js';
import { createChangeService } from './changes.service.js';
import { createConversationService } from './conversations.service.js';
import { createMessageService } from './messages.service.js';
import { createRoomIdsCache } from './room-ids.js';
import { createSendPipeline } from './send-pipeline.js';
import type { DeliveryQueue, Limiter, Realtime } from './ports.js';
import { createWatermarkBatcher } from './watermarks.js';

export interface MessagingDeps {
  store: Store;
  realtime: Realtime;
  delivery: DeliveryQueue;
  limiter: Limiter;
  attachmentHosts: readonly string[];
  /** Group commit of sends (see send-pipeline.ts); 1 or unset = off. */
  appendBatchMax?: number;
  /** How long a batch may gather under a steady stream, ms (0 = only while others are in flight). */
  appendBatchLingerMs?: number;
  /** Under a steady stream of receipts, a watermark write is cut at most once per this many ms. */
  receiptBatchLingerMs?: number;
  /** How long after sending its sender may edit a message, ms (default 2 days, §9). */
  editWindowMs?: number;
}

const DEFAULT_EDIT_WINDOW_MS = 2 * 24 * 3600 * 1000; // 2 days

/** The domain: one object that both the socket gateway and REST call. */
export function createMessaging(deps: MessagingDeps) {
  const watermarks = createWatermarkBatcher(deps.store, { lingerMs: deps.receiptBatchLingerMs ?? 0 });
  const conversations = createConversationService(deps);
  const sends = createSendPipeline({ ...deps, maxBatch: deps.appendBatchMax ?? 1, lingerMs: deps.appendBatchLingerMs ?? 0 });
  const access = createAccessCache(deps.store);
  const roomIds = createRoomIdsCache(deps.store);
  deps.realtime.onMembershipChanged((conversationId) => {
    access.forget(conversationId);
    roomIds.forgetAll();
  });
  deps.realtime.onLinkChanged((up) => {
    access.linked(up);
    roomIds.forgetAll();
  });
  const messages = createMessageService({ ...deps, conversations, watermarks, sends, access });
  const changes = createChangeService({ ...deps, access, editWindowMs: deps.editWindowMs ?? DEFAULT_EDIT_WINDOW_MS });
  return { conversations, messages, changes, watermarks, sends, access, roomIds };
}

export type Messaging = ReturnType<typeof createMessaging>;
export type * from './ports.js';
