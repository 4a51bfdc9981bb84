import { z } from 'zod';

/** Defaults of PROTOCOL.md §3; the server may be configured tighter or looser. */
export const LIMITS = Object.freeze({
  textMaxChars: 4_000,
  titleMaxChars: 200,
  userIdMaxChars: 128,
  clientMsgIdMaxChars: 64,
  attachmentMaxBytes: 100 * 1024 * 1024, // 100 MiB
  attachmentNameMaxChars: 255,
  groupMaxMembers: 10_000,
  /** Open conversations one user may be in (§7): adding or joining beyond answers CONFLICT. */
  userMaxConversations: 10_000,
  /** Ids a membership notice carries at most; larger changes also carry `count` (§7). */
  noticeMaxIds: 20,
  addMembersMaxPerCall: 1_000,
  frameMaxBytes: 64 * 1024, // 64 KiB, Socket.IO maxHttpBufferSize and REST body limit
  pageDefault: 50,
  pageMax: 200,
  syncDefault: 100,
  syncMax: 200,
  emojiMaxChars: 32,
  presenceSubscribeMax: 200, // users one socket watches at once (§9)
});

/** MIME types accepted for attachments by default. */
export const DEFAULT_ATTACHMENT_MIME = Object.freeze([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'video/mp4',
  'video/webm',
  'audio/mpeg',
  'audio/ogg',
  'audio/mp4',
  'application/pdf',
  'application/zip',
  'text/plain',
]);

// Control characters except \t (0x09) and \n (0x0a), plus DEL and the C1 range.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Removes control characters other than `\n` and `\t` (PROTOCOL.md §3). */
export function stripControlChars(value: string): string {
  return value.replace(CONTROL_CHARS, '');
}

/** Length in Unicode code points, so an emoji counts as one character. */
export function charLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

/** A user id: the JWT `sub`, 1–128 characters, no control characters. */
export const UserIdSchema = z
  .string()
  .min(1)
  .max(LIMITS.userIdMaxChars)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s), 'must not contain control characters');

/** Conversation and message ids are opaque strings made by the store. */
export const IdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an id');

/** Client-chosen idempotency key of a send: 1–64 chars of `[A-Za-z0-9_-]`. */
export const ClientMsgIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_-]');

/** A per-conversation sequence number. */
export const SeqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * Message text: control characters removed, trimmed, 1–4,000 characters (code points).
 * Parsing returns the cleaned text, which is what gets stored.
 */
export const MessageTextSchema = z
  .string()
  .max(LIMITS.textMaxChars * 4) // cheap upper bound before the per-character work
  .transform((s) => stripControlChars(s).trim())
  .refine((s) => s.length > 0, 'must not be empty')
  .refine((s) => charLength(s) <= LIMITS.textMaxChars, `must be at most ${LIMITS.textMaxChars} characters`);

/** Conversation title: control characters removed, trimmed, 1–200 characters. */
export const TitleSchema = z
  .string()
  .max(LIMITS.titleMaxChars * 4)
  .transform((s) => stripControlChars(s).trim())
  .refine((s) => s.length > 0, 'must not be empty')
  .refine((s) => charLength(s) <= LIMITS.titleMaxChars, `must be at most ${LIMITS.titleMaxChars} characters`);

/** ISO 8601 timestamp as sent on the wire. */
export const TimestampSchema = z.iso.datetime({ offset: true });

/** A reaction: 1–32 characters (code points), no control characters. */
export const EmojiSchema = z
  .string()
  .min(1)
  .max(LIMITS.emojiMaxChars * 4)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s), 'must not contain control characters')
  .refine((s) => charLength(s) <= LIMITS.emojiMaxChars, `must be at most ${LIMITS.emojiMaxChars} characters`);
