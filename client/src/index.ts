// @relaygate/client: the guarantees of the relaygate gateway, made real in the app.
export { createClient, RelaygateClient, type ClientEvents, type ClientOptions, type SubscribeOptions, type Subscription } from './client.js';
export { Connection, tokenExpiry, type CallOptions, type ClientSocket, type ConnectionOptions, type ConnectionState, type TokenProvider, type TokenReason } from './connection.js';
export { ClientError, isTransient, type LocalReason } from './errors.js';
export { localStorageOutbox, memoryOutbox, newClientMsgId, type OutboxPersistence, type OutboxRecord, type PendingSend, type SendBody, type StorageLike } from './outbox.js';
export type { MemberWatermark, ReceiptType } from './receipts.js';
export { createRest, type GetConversationResponse, type ListMembersResponse, type RestApi, type RestOptions } from './rest.js';
export type { Arrival, Discontinuity, StreamHandlers } from './stream.js';
export type { BackoffOptions } from './timing.js';
