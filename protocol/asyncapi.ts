// The AsyncAPI 3 document of the socket protocol, built from the same zod schemas the server
// parses with (zod's JSON Schema output), so the reference cannot drift from validation. Every
// event of CLIENT_EVENTS and SERVER_EVENTS is in it; only prose is written here.
import { z } from 'zod';
import { AckErrorSchema, ERROR_CODES, HTTP_STATUS, WireErrorSchema, type ErrorCode } from './errors.js';
import { ClientMsgIdSchema, DEFAULT_ATTACHMENT_MIME, LIMITS, MessageTextSchema, TitleSchema } from './schemas/common.js';
import {
  CLIENT_EVENTS,
  CLIENT_EVENT_NAMES,
  EmptyAckSchema,
  SERVER_EVENTS,
  SERVER_EVENT_NAMES,
  WatermarkSchema,
  type ClientEventName,
  type ServerEventName,
} from './schemas/events.js';
import { AttachmentSchema, ConversationSchema, MembershipSchema, MessageSchema, SystemEventSchema } from './schemas/model.js';

/** What each client event does; a new event without a line here does not compile. */
const CLIENT_TEXT: Record<ClientEventName, { summary: string; text: string; tag: string }> = {
  'conversation:create': {
    tag: 'conversations',
    summary: 'Create a direct chat, a group or a channel',
    text: 'A direct chat with the same peer returns the existing one. The creator is the owner. Rate limit: membership.',
  },
  'conversation:join': {
    tag: 'conversations',
    summary: 'Join a public group or channel',
    text: 'Public groups and channels only (a private one is `NOT_FOUND`). Opens a new membership period. Rate limit: membership.',
  },
  'conversation:leave': {
    tag: 'conversations',
    summary: 'Leave a group or channel',
    text: 'Closes the membership period; the socket leaves the room. A direct chat cannot be left (`FORBIDDEN`). Rate limit: membership.',
  },
  'conversation:addMembers': {
    tag: 'conversations',
    summary: 'Add members (owner, admin, moderator)',
    text: `At most ${LIMITS.addMembersMaxPerCall} ids per call; \`added\` lists those who were not members yet. Rate limit: membership.`,
  },
  'conversation:removeMember': {
    tag: 'conversations',
    summary: 'Remove a member (owner, admin; moderator on plain members)',
    text: 'Closes the removed member\'s period and takes their sockets out of the room. Rate limit: membership.',
  },
  'conversation:setRole': {
    tag: 'conversations',
    summary: 'Change a member\'s role (owner, admin)',
    text: 'Nobody changes their own role. Rate limit: membership.',
  },
  'message:send': {
    tag: 'messages',
    summary: 'Send a message',
    text:
      'Acknowledged only after the message is stored **and** its delivery job is enqueued. Sending the same ' +
      '`clientMsgId` again returns the original message with `duplicate: true` and stores nothing. ' +
      '`UNAVAILABLE` means nothing was stored: retry with the same `clientMsgId`. Rate limit: send.',
  },
  'message:delivered': {
    tag: 'receipts',
    summary: 'Move the caller\'s delivered watermark forward',
    text: 'A lower `seq` than the stored watermark is a no-op. The room gets a `receipt` when it moved. Rate limit: receipt.',
  },
  'message:read': {
    tag: 'receipts',
    summary: 'Move the caller\'s read watermark forward',
    text: 'As `message:delivered`; the `receipt` is not shown to others when the caller turned read receipts off. Rate limit: receipt.',
  },
  'conversation:sync': {
    tag: 'messages',
    summary: 'Messages after a seq, in seq order (catch-up after a reconnect)',
    text: `Only messages inside the caller's membership periods. \`limit\` 1–${LIMITS.syncMax}, default ${LIMITS.syncDefault}; also every message changed (\`updatedSeq\`) after \`afterSeq\`, in its current state. Call again from the highest \`seq\` or \`updatedSeq\` returned while \`hasMore\`. Rate limit: read.`,
  },
  typing: {
    tag: 'presence',
    summary: 'Tell the room the caller is typing',
    text: 'Relayed to the other sockets in the room, never stored. Rate limit: typing.',
  },
  'message:edit': {
    tag: 'messages',
    summary: 'Edit one of the caller\'s text messages',
    text:
      'The sender only, `text` messages only, within `EDIT_WINDOW_S` of sending (default 2 days; later: `FORBIDDEN`). ' +
      'The edit takes the next seq of the conversation as the message\'s `updatedSeq`; the room gets `message:updated`. ' +
      'The same text again changes nothing. A deleted message is `NOT_FOUND`. Rate limit: change.',
  },
  'message:delete': {
    tag: 'messages',
    summary: 'Delete a message (its sender, or an owner/admin/moderator)',
    text:
      'Removes `text`, `attachment` and reactions from the store for good; the message keeps `id`, `seq`, `senderId`, ' +
      '`createdAt` and gets `deletedAt`. Deleting again changes nothing. The room gets `message:updated`. Rate limit: change.',
  },
  'message:react': {
    tag: 'messages',
    summary: 'Put a reaction on a message or take it off',
    text:
      'Any member who may read the message, channels included. A member holds each emoji at most once, so repeating ' +
      '`on: true` (or `on: false`) changes nothing. The room gets `message:updated` with the counts. Rate limit: change.',
  },
  'presence:subscribe': {
    tag: 'presence',
    summary: 'Watch whether users are online (replaces the socket\'s watched set)',
    text:
      `At most ${LIMITS.presenceSubscribeMax} user ids (more is \`INVALID_ARGUMENT\` on \`userIds\`); an empty list stops watching. ` +
      'The ack holds each user\'s presence now; every change afterwards arrives as a `presence` event, whichever node the user is on. ' +
      'A user who hides presence is always offline, without `lastSeenAt`. Rate limit: presence.',
  },
};

/** Who receives each server event. */
const SERVER_TEXT: Record<ServerEventName, { summary: string; text: string; tag: string }> = {
  'message:new': {
    tag: 'messages',
    summary: 'A message was stored in one of the user\'s conversations',
    text:
      'To the conversation room, the sender\'s own sockets included. At-least-once: it may repeat and may arrive ' +
      'out of `seq` order; de-duplicate by `message.id`, order by `message.seq`.',
  },
  'message:updated': {
    tag: 'messages',
    summary: 'A message was edited, deleted or reacted to',
    text:
      'To the conversation room, with the message\'s current state. At-least-once; keep the state with the highest ' +
      '`updatedSeq`. Missed ones are returned by `conversation:sync` from the last seen seq.',
  },
  receipt: {
    tag: 'receipts',
    summary: 'A member\'s delivered or read watermark moved',
    text: 'To the conversation room. Read receipts of members who turned them off are not sent.',
  },
  'conversation:updated': {
    tag: 'conversations',
    summary: 'A conversation or its membership changed',
    text: 'To the conversation room and to the affected users (e.g. a member just added or removed). `change` says what happened.',
  },
  typing: {
    tag: 'presence',
    summary: 'Someone in the conversation is typing',
    text: 'To the conversation room except the sender. Never stored; clients expire an indicator whose `false` never comes.',
  },
  'session:expired': {
    tag: 'session',
    summary: 'The socket\'s token expired',
    text: 'Sent at the token\'s `exp`, then the server disconnects the socket. Reconnect with a fresh token.',
  },
  'server:draining': {
    tag: 'session',
    summary: 'This node is shutting down',
    text: 'Reconnect (the load balancer sends you to another node) after `reconnectAfterMs` plus jitter.',
  },
  presence: {
    tag: 'presence',
    summary: 'A watched user went online or offline',
    text:
      'To the sockets that watch the user (`presence:subscribe`), on every node. Online while any socket of the user is ' +
      'connected on any node; `lastSeenAt` when the last one closed. A node that dies stops counting within 60 s.',
  },
};

const ERROR_TEXT: Record<ErrorCode, string> = {
  UNAUTHENTICATED: 'no, malformed, expired or wrongly signed token (handshake)',
  FORBIDDEN: 'authenticated but not allowed (role, channel posting, a public conversation one is not a member of)',
  NOT_FOUND: 'no such conversation or member, or a private conversation the caller is not in',
  INVALID_ARGUMENT: 'malformed payload, unknown key or event, missing ack callback; `field` names the bad field',
  RATE_LIMITED: 'over a rate limit; retry after `retryAfterMs`',
  PAYLOAD_TOO_LARGE: `frame over ${LIMITS.frameMaxBytes / 1024} KiB (Socket.IO closes the connection)`,
  CONFLICT: 'a conflicting concurrent change, or a full conversation',
  UNAVAILABLE: 'the store or the queue is unreachable; nothing was stored, retry later',
  INTERNAL: 'unexpected server error; details only in the server log',
};

/** Component name of a schema used by several events. */
const SHARED_NAMES = new Map<z.ZodType, string>([
  [WatermarkSchema, 'Watermark'],
  [EmptyAckSchema, 'EmptyAck'],
]);

/** What JSON Schema cannot say about refinements, added to the generated schema. */
const REFINEMENTS = new Map<object, Record<string, unknown>>([
  [MessageTextSchema, { description: `Plain text. Control characters other than \\n and \\t are removed and the text trimmed; then 1–${LIMITS.textMaxChars} characters (code points).` }],
  [TitleSchema, { description: `Control characters removed, trimmed; then 1–${LIMITS.titleMaxChars} characters.` }],
  [ClientMsgIdSchema, { description: 'Idempotency key chosen by the client; repeating it returns the original message.' }],
  [AttachmentSchema.shape.url, { description: 'An `https:` URL; the server may allow-list hosts (`ATTACHMENT_HOSTS`).' }],
  [AttachmentSchema.shape.mime, { enum: [...DEFAULT_ATTACHMENT_MIME] }],
]);

/** `message:send` -> `MessageSend` */
function pascal(event: string): string {
  return event
    .split(/[:.]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** `message:send` -> `message.send` (AsyncAPI component keys allow no colon). */
const key = (event: string) => event.replace(/:/g, '.');

type JsonSchema = Record<string, unknown>;

/** JSON Schemas of the registered zod schemas, with `$ref`s between them into components. */
function jsonSchemas(entries: [z.ZodType, string][], io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of entries) if (!registry.has(schema)) registry.add(schema, { id });
  const out = z.toJSONSchema(registry, {
    io,
    target: 'draft-07',
    uri: (id) => `#/components/schemas/${id}`,
    // Transforms (text cleaning) have no JSON Schema; their input side is described instead.
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const extra = REFINEMENTS.get(zodSchema);
      if (extra) Object.assign(jsonSchema, extra);
    },
  });
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    const { $schema: _, $id: __, id: ___, ...rest } = schema as JsonSchema;
    schemas[id] = rest;
  }
  return schemas;
}

export interface AsyncApiOptions {
  /** `host[:port]` clients connect to. */
  host?: string;
  /** Version of the document (the package version). */
  version?: string;
}

/**
 * The AsyncAPI 3.1 document of the Socket.IO protocol, from the gateway's point of view: client
 * events are `receive` operations whose `reply` is the acknowledgement, server events are `send`
 * operations.
 *
 * @example
 * const doc = asyncApiDocument({ host: 'chat.example.com' });
 * doc.operations['receive.message.send'].reply.messages; // the ack of message:send
 */
export function asyncApiDocument(opts: AsyncApiOptions = {}) {
  const clientNames = (e: ClientEventName) => ({
    payload: SHARED_NAMES.get(CLIENT_EVENTS[e].payload) ?? `${pascal(e)}Payload`,
    ack: SHARED_NAMES.get(CLIENT_EVENTS[e].ack) ?? `${pascal(e)}Ack`,
  });
  const serverName = (e: ServerEventName) => `${pascal(e)}Event`;

  const output = jsonSchemas(
    [
      [MessageSchema, 'Message'],
      [ConversationSchema, 'Conversation'],
      [MembershipSchema, 'Membership'],
      [AttachmentSchema, 'Attachment'],
      [SystemEventSchema, 'SystemEvent'],
      [WireErrorSchema, 'WireError'],
      [AckErrorSchema, 'AckError'],
      ...CLIENT_EVENT_NAMES.map((e): [z.ZodType, string] => [CLIENT_EVENTS[e].ack, clientNames(e).ack]),
      ...SERVER_EVENT_NAMES.map((e): [z.ZodType, string] => [SERVER_EVENTS[e], serverName(e)]),
    ],
    'output',
  );
  // Client payloads as a client writes them (before the server cleans text and titles).
  const input = jsonSchemas(
    [
      [AttachmentSchema, 'Attachment'],
      ...CLIENT_EVENT_NAMES.map((e): [z.ZodType, string] => [CLIENT_EVENTS[e].payload, clientNames(e).payload]),
    ],
    'input',
  );
  const schemas = { ...output, ...input };
  (schemas.WireError as JsonSchema).description =
    'The error of a failed acknowledgement (and of a REST error body). Codes:\n\n' +
    ERROR_CODES.map((c) => `- \`${c}\` (HTTP ${HTTP_STATUS[c]}): ${ERROR_TEXT[c]}`).join('\n');

  const ref = (to: string) => ({ $ref: to });
  const operation = (action: 'send' | 'receive', event: string, messageId: string, t: { summary: string; text: string; tag: string }) => ({
    action,
    channel: ref('#/channels/socket'),
    title: event,
    summary: t.summary,
    description: t.text,
    tags: [{ name: t.tag }],
    messages: [ref(`#/channels/socket/messages/${messageId}`)],
  });
  const messages: Record<string, unknown> = {};
  const channelMessages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};

  for (const e of CLIENT_EVENT_NAMES) {
    const { payload, ack } = clientNames(e);
    const id = `client.${key(e)}`;
    const { summary, text } = CLIENT_TEXT[e];
    messages[id] = { name: e, title: e, summary, description: text, payload: ref(`#/components/schemas/${payload}`) };
    messages[`${id}.ack`] = {
      title: `ack of ${e}`,
      summary: `\`{ ok: true, ... }\` or \`{ ok: false, error }\``,
      payload: ref(`#/components/schemas/${ack}`),
    };
    channelMessages[id] = ref(`#/components/messages/${id}`);
    channelMessages[`${id}.ack`] = ref(`#/components/messages/${id}.ack`);
    operations[`receive.${key(e)}`] = {
      ...operation('receive', e, id, CLIENT_TEXT[e]),
      reply: { channel: ref('#/channels/socket'), messages: [ref(`#/channels/socket/messages/${id}.ack`)] },
    };
  }
  for (const e of SERVER_EVENT_NAMES) {
    const id = `server.${key(e)}`;
    const { summary, text } = SERVER_TEXT[e];
    messages[id] = { name: e, title: e, summary, description: text, payload: ref(`#/components/schemas/${serverName(e)}`) };
    channelMessages[id] = ref(`#/components/messages/${id}`);
    operations[`send.${key(e)}`] = operation('send', e, id, SERVER_TEXT[e]);
  }

  return {
    asyncapi: '3.1.0',
    info: {
      title: 'relaygate socket protocol',
      version: opts.version ?? '1',
      description:
        'The Socket.IO events of the relaygate chat gateway (PROTOCOL.md §4; docs/protocol.md explains them). Connect with ' +
        "socket.io-client 4: `io(url, { auth: { token }, transports: ['websocket'] })`, where `token` is a JWT whose `sub` " +
        'is the user id. A refused handshake is a `connect_error` whose `data` is `{ code, message, retryAfterMs? }`.\n\n' +
        'Every client event takes exactly one payload and an acknowledgement callback, and is answered exactly once with ' +
        '`{ ok: true, ...data }` or `{ ok: false, error: { code, message, field?, retryAfterMs? } }`. Objects are strict: ' +
        'an unknown key is `INVALID_ARGUMENT`.\n\n' +
        'Delivery is at-least-once: de-duplicate `message:new` by `message.id`, order by `seq`, and after a reconnect ' +
        'call `conversation:sync` from the highest seq below which you have seen everything. ' +
        `Frames are limited to ${LIMITS.frameMaxBytes / 1024} KiB.`,
      tags: [
        { name: 'conversations', description: 'Creating conversations and changing membership.' },
        { name: 'messages', description: 'Sending, live delivery and catch-up.' },
        { name: 'receipts', description: 'Delivered and read watermarks.' },
        { name: 'presence', description: 'Typing indicators.' },
        { name: 'session', description: 'The connection itself.' },
      ],
    },
    defaultContentType: 'application/json',
    servers: {
      gateway: {
        host: opts.host ?? 'localhost:3000',
        protocol: 'ws',
        pathname: '/socket.io/',
        title: 'A gateway node',
        description: 'Socket.IO 4 (Engine.IO protocol 4) over WebSocket; HTTP long-polling works too behind a sticky load balancer.',
        security: [ref('#/components/securitySchemes/jwt')],
      },
    },
    channels: {
      socket: {
        address: '/',
        title: 'The Socket.IO main namespace',
        description: 'One connection carries every event of every conversation the user is in; the server subscribes it to their rooms before `connect`.',
        messages: channelMessages,
      },
    },
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        jwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Sent in the Socket.IO handshake as `auth: { token }` (not as an HTTP header). `sub` is the user id; `exp` is required.',
        },
      },
    },
  };
}

export type AsyncApiDocument = ReturnType<typeof asyncApiDocument>;
