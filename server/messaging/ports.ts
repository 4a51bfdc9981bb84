// What the domain needs from the outside world, as small ports, so `messaging/` carries no
// Socket.IO, Express or BullMQ types and both the socket handlers and REST call the same code.
import type {
  ConversationUpdated,
  Message,
  Receipt,
  TypingEvent,
} from '../../protocol/index.js';

/** Live effects across every node of the cluster (implemented over the Socket.IO Redis adapter). */
export interface Realtime {
  /** Subscribes every connected socket of these users, on every node, to the conversation. */
  subscribe(userIds: string[], conversationId: string): void;
  /** Unsubscribes every connected socket of these users, on every node. */
  unsubscribe(userIds: string[], conversationId: string): void;
  /**
   * Puts a membership change in force on every node: resolves once each gateway node has
   * applied the room changes published before it and dropped what it cached about the
   * conversation (or after a bounded wait for a node that does not answer).
   */
  membershipChanged(conversationId: string): Promise<void>;
  /** Runs on this node for every membership change made on any node (this one included). */
  onMembershipChanged(listener: (conversationId: string) => void): void;
  /**
   * Runs when this node's link to the other nodes' notices (the adapter's subscriber connection)
   * drops (`false`) or comes back (`true`): notices sent while it was down are lost, so whatever
   * was cached may be stale, and nothing read while it is down may be cached.
   */
  onLinkChanged(listener: (up: boolean) => void): void;
  conversationUpdated(conversationId: string, data: ConversationUpdated, alsoUserIds?: string[]): void;
  receipt(data: Receipt): void;
  /** To the room except the sender's own sockets. */
  typing(data: TypingEvent): void;
}

/** The delivery queue: an accepted message is enqueued before the send is acknowledged. */
export interface DeliveryQueue {
  /**
   * Enqueues newly stored messages as one delivery (one job per batch, not per message, and
   * one per lane); resolves with the id of the delivery holding each message, for the logs.
   */
  enqueue(messages: Message[]): Promise<Map<string, string>>;
  /** Enqueues one message again (a repeated send whose first enqueue may have failed); a no-op while that job exists. Resolves with its delivery id. */
  redeliver(message: Message): Promise<string>;
  /**
   * Enqueues a change of a stored message (PROTOCOL.md §9) as a job that emits
   * `message:updated`; one job per change (`updatedSeq`), so repeating it adds nothing while
   * the job exists. Resolves with its delivery id.
   */
  enqueueUpdate(message: Message): Promise<string>;
  /** False while the queue's Redis is unreachable: sends are refused before anything is stored. */
  available(): boolean;
}

/** Rate limiting per user and event family; throws AppError RATE_LIMITED when over. */
export interface Limiter {
  consume(family: LimitFamily, key: string, points?: number): Promise<void>;
}

/** `added` is keyed by the user being added (by others) to a conversation, not by the actor. */
export type LimitFamily = 'send' | 'receipt' | 'typing' | 'membership' | 'read' | 'handshake' | 'rest' | 'added' | 'change' | 'presence';
