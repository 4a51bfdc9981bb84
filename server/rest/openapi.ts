// The OpenAPI 3.1 document of the HTTP API, generated from the protocol's zod schemas by
// zod-openapi: request parameters and bodies are the very schemas the routers parse with, and
// responses the schemas of protocol/schemas/rest.ts. Only prose is written here.
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import {
  ConversationParamsSchema,
  ConversationSchema,
  ErrorBodySchema,
  GetConversationResponseSchema,
  HistoryQuerySchema,
  HistoryResponseSchema,
  HTTP_STATUS,
  LIMITS,
  ListConversationsQuerySchema,
  ListConversationsResponseSchema,
  ListMembersQuerySchema,
  ListMembersResponseSchema,
  MemberSchema,
  MembershipSchema,
  MessageBodySchema,
  MessageSchema,
  PostMessageHeadersSchema,
  PostMessageResponseSchema,
  SettingsSchema,
  SettingsUpdateSchema,
  ConversationSettingsSchema,
  type ErrorCode,
} from '../../protocol/index.js';
import { adminPaths } from './openapi.admin.js';
import { changePaths } from './openapi.changes.js';
import { json, OPERATIONS_PATHS } from './openapi.operations.js';

const ERROR_TEXT: Record<ErrorCode, string> = {
  INVALID_ARGUMENT: 'A parameter, header or body field is malformed, unknown or missing; `error.field` names it (`query.limit`, `body.text`, `header.idempotency-key`).',
  UNAUTHENTICATED: 'Missing, malformed, expired or wrongly signed bearer token.',
  FORBIDDEN: 'Authenticated but not allowed.',
  NOT_FOUND: 'No such resource.',
  CONFLICT: 'Conflicting concurrent change.',
  PAYLOAD_TOO_LARGE: `Request body over ${LIMITS.frameMaxBytes / 1024} KB.`,
  RATE_LIMITED: 'Over the per-user rate limit; retry after `Retry-After` seconds (`error.retryAfterMs` in ms).',
  UNAVAILABLE: 'Storage or queue unreachable; retry later.',
  INTERNAL: 'Unexpected server error (details only in the server log, by `X-Request-Id`).',
};

/** Error responses by code, each `{ error: { code, message } }` with the status of §6. */
function errors(codes: ErrorCode[], overrides: Partial<Record<ErrorCode, string>> = {}): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {};
  for (const code of [...codes, 'INTERNAL' as const, 'UNAVAILABLE' as const]) {
    const status = String(HTTP_STATUS[code]) as `${1 | 2 | 3 | 4 | 5}${string}`;
    out[status] = {
      description: `\`${code}\`: ${overrides[code] ?? ERROR_TEXT[code]}`,
      content: { 'application/json': { schema: ErrorBodySchema } },
      ...(code === 'RATE_LIMITED'
        ? { headers: z.object({ 'Retry-After': z.string().regex(/^\d+$/).meta({ description: 'Seconds to wait.' }) }) }
        : {}),
    };
  }
  return out;
}


/** Every /v1 operation: bearer token, per-user rate limit, request id echoed. */
function v1(op: ZodOpenApiOperationObject): ZodOpenApiOperationObject {
  return { security: [{ bearerAuth: [] }], ...op };
}

const NON_MEMBER_RULE =
  'A caller who is not a current member gets **404** for a private conversation (its existence does not leak) ' +
  'and **403** for a public one (anyone may learn it exists and join it); an unknown id is 404.';
const memberErrors = errors(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'RATE_LIMITED'], {
  FORBIDDEN: 'Not a member of this public conversation.',
  NOT_FOUND: 'No such conversation, or a private one the caller is not a member of.',
});
const PAGE_LIMIT = `Page size, 1–${LIMITS.pageMax}, default ${LIMITS.pageDefault}.`;

const PARAM_TEXT: Record<string, string> = {
  limit: PAGE_LIMIT,
  cursor: 'Opaque cursor: `nextCursor` of the previous page.',
  before: 'Newest visible messages with `seq < before`, newest first.',
  after: 'Oldest visible messages with `seq > after`, oldest first. Not together with `before`.',
  offset: 'Number of dead letters to skip (oldest first).',
  id: 'Conversation id.',
  jobId: 'Dead-letter job id, as listed.',
  queue: 'Which dead-letter queue: `delivery` (default) or `push`.',
  messageId: 'Message id.',
  emoji: 'The reaction, URL-encoded: 1–32 characters.',
  'idempotency-key': 'The send\'s `clientMsgId`: 1–64 chars of `[A-Za-z0-9_-]`. Repeating it returns the original message.',
};

function build() {
  const doc = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'relaygate REST API',
      version: '1',
      description:
        'REST side of the relaygate chat gateway (PROTOCOL.md §6). Live events travel over Socket.IO; REST serves ' +
        'history backfill, the conversation list, members, bot sends and operator endpoints.\n\n' +
        'Every response carries `X-Request-Id` (the request\'s own when it sent a safe one). Errors are ' +
        '`{ "error": { "code", "message", "field"?, "retryAfterMs"? } }`. Unknown query parameters are refused ' +
        `with 400. Request bodies are limited to ${LIMITS.frameMaxBytes / 1024} KB.\n\n${NON_MEMBER_RULE}`,
    },
    tags: [
      { name: 'conversations', description: 'The caller\'s conversations and their members.' },
      { name: 'messages', description: 'History paging, sends, edits, deletions and reactions.' },
      { name: 'me', description: 'The caller\'s settings.' },
      { name: 'admin', description: 'Operators only: `roles: ["admin"]` in the token.' },
      { name: 'operations', description: 'Probes, metrics and these docs; no token.' },
    ],
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT whose `sub` is the user id (PROTOCOL.md §2).' },
      },
      schemas: {
        Conversation: ConversationSchema,
        Membership: MembershipSchema,
        Member: MemberSchema,
        Message: MessageSchema,
        ErrorBody: ErrorBodySchema,
      },
    },
    paths: {
      '/v1/conversations': {
        get: v1({
          tags: ['conversations'],
          operationId: 'listConversations',
          summary: 'The caller\'s conversations, most recently active first',
          description:
            '`unread` counts visible non-system messages after the caller\'s `readSeq` not sent by the caller ' +
            '(capped at 9,999). `lastMessage` is the newest message the caller may see.',
          requestParams: { query: ListConversationsQuerySchema },
          responses: { 200: json('A page of conversations.', ListConversationsResponseSchema), ...errors(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'RATE_LIMITED']) },
        }),
      },
      '/v1/conversations/{id}': {
        get: v1({
          tags: ['conversations'],
          operationId: 'getConversation',
          summary: 'A conversation and the caller\'s membership',
          description: NON_MEMBER_RULE,
          requestParams: { path: ConversationParamsSchema },
          responses: { 200: json('The conversation and the caller\'s open membership period.', GetConversationResponseSchema), ...memberErrors },
        }),
      },
      '/v1/conversations/{id}/members': {
        get: v1({
          tags: ['conversations'],
          operationId: 'listMembers',
          summary: 'Current members with role and receipt watermarks',
          description: `Ordered by user id. \`readSeq\` is omitted for members who turned read receipts off (except the caller's own). ${NON_MEMBER_RULE}`,
          requestParams: { path: ConversationParamsSchema, query: ListMembersQuerySchema },
          responses: { 200: json('A page of members.', ListMembersResponseSchema), ...memberErrors },
        }),
      },
      '/v1/conversations/{id}/settings': {
        get: v1({
          tags: ['conversations'],
          operationId: 'getConversationSettings',
          summary: 'The caller\'s settings for one conversation',
          requestParams: { path: ConversationParamsSchema },
          responses: { 200: json('Current settings.', ConversationSettingsSchema), ...memberErrors },
        }),
        put: v1({
          tags: ['conversations'],
          operationId: 'putConversationSettings',
          summary: 'Mute or unmute a conversation',
          description: `A muted conversation's messages are never posted to the offline-push webhook for the caller. ${NON_MEMBER_RULE}`,
          requestParams: { path: ConversationParamsSchema },
          requestBody: { required: true, content: { 'application/json': { schema: ConversationSettingsSchema } } },
          responses: { 200: json('The settings now in force.', ConversationSettingsSchema), ...memberErrors, ...errors(['PAYLOAD_TOO_LARGE']) },
        }),
      },
      '/v1/conversations/{id}/messages': {
        get: v1({
          tags: ['messages'],
          operationId: 'history',
          summary: 'A history page, keyset on seq',
          description:
            'With `before` or neither: the newest visible messages below it, newest first, and `nextBefore` (pass it as ' +
            '`before`) when older ones exist. With `after`: oldest first, and `nextAfter` (pass it as `after`) when newer ones ' +
            'exist. Only messages inside the caller\'s membership periods. `Cache-Control: private, no-store`; a weak `ETag` ' +
            `that \`If-None-Match\` turns into 304. ${NON_MEMBER_RULE}`,
          requestParams: { path: ConversationParamsSchema, query: HistoryQuerySchema },
          responses: {
            200: {
              ...json('A page of messages.', HistoryResponseSchema),
              headers: z.object({ ETag: z.string().meta({ description: 'Weak tag of the page.' }) }),
            },
            304: { description: 'Not modified: `If-None-Match` matched the page\'s ETag.' },
            ...memberErrors,
          },
        }),
        post: v1({
          tags: ['messages'],
          operationId: 'sendMessage',
          summary: 'Send a message (bots and back-ends)',
          description:
            'Exactly `message:send`: same validation, authorisation (channels: owner/admin/moderator only), rate limit, ' +
            'idempotency and delivery job. Answers once the message is stored and its delivery enqueued; members receive ' +
            `\`message:new\` on their sockets. ${NON_MEMBER_RULE}`,
          requestParams: { path: ConversationParamsSchema, header: PostMessageHeadersSchema },
          requestBody: { required: true, content: { 'application/json': { schema: MessageBodySchema } } },
          responses: {
            201: json('Stored and enqueued: `duplicate: false`.', PostMessageResponseSchema),
            200: json('A repeat of an earlier `Idempotency-Key`: the original message, `duplicate: true`.', PostMessageResponseSchema),
            ...memberErrors,
            ...errors(['PAYLOAD_TOO_LARGE']),
          },
        }),
      },
      ...changePaths({ v1, errors, nonMemberRule: NON_MEMBER_RULE }),
      '/v1/me/settings': {
        get: v1({
          tags: ['me'],
          operationId: 'getSettings',
          summary: 'The caller\'s settings',
          responses: { 200: json('Current settings.', SettingsSchema), ...errors(['UNAUTHENTICATED', 'RATE_LIMITED']) },
        }),
        put: v1({
          tags: ['me'],
          operationId: 'putSettings',
          summary: 'Set read-receipt and presence privacy',
          description:
            'Name one setting or both; the others stay. With `readReceipts: false` the caller\'s `readSeq` is hidden from other ' +
            'members and no `read` receipts are broadcast. With `presence: false` the caller is always offline to others.',
          requestBody: { required: true, content: { 'application/json': { schema: SettingsUpdateSchema } } },
          responses: {
            200: json('The settings now in force.', SettingsSchema),
            ...errors(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED']),
          },
        }),
      },
      ...adminPaths({ v1, errors }),
      ...OPERATIONS_PATHS,
    },
  });
  describeParameters(doc);
  return doc;
}

/** Adds the prose of PARAM_TEXT to the generated parameters (kept out of protocol/ schemas). */
function describeParameters(doc: ReturnType<typeof createDocument>): void {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item as Record<string, { parameters?: { name?: string; description?: string }[] }>)) {
      for (const p of op.parameters ?? []) {
        if (p.name && PARAM_TEXT[p.name] && !p.description) p.description = PARAM_TEXT[p.name];
      }
    }
  }
}

let cached: ReturnType<typeof build> | undefined;

/** The OpenAPI document (built once per process). */
export function openApiDocument(): ReturnType<typeof build> {
  cached ??= build();
  return cached;
}
