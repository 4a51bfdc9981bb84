import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CLIENT_EVENTS,
  ConversationCreateSchema,
  HistoryQuerySchema,
  MessageSendSchema,
  SyncSchema,
  stripControlChars,
  type AckOf,
  type ClientToServerEvents,
  type PayloadOf,
} from './index.js';

const base = { conversationId: 'c1', clientMsgId: 'abc-1' };

describe('message:send payload', () => {
  it('cleans text: strips control characters except \\n and \\t, trims', () => {
    const r = MessageSendSchema.parse({ ...base, kind: 'text', text: '  hi\u0000\u0007 there\n\tok\u009f  ' });
    expect(r.text).toBe('hi there\n\tok');
  });

  it('counts length in code points: 4000 emoji pass, 4001 fail', () => {
    expect(MessageSendSchema.safeParse({ ...base, kind: 'text', text: '😀'.repeat(4000) }).success).toBe(true);
    const r = MessageSendSchema.safeParse({ ...base, kind: 'text', text: '😀'.repeat(4001) });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['text']);
  });

  it('refuses empty text after cleaning, unknown keys, operators and bad ids', () => {
    for (const bad of [
      { ...base, kind: 'text', text: ' \u0001 ' },
      { ...base, kind: 'text', text: 'x', extra: 1 },
      { ...base, conversationId: { $ne: null }, kind: 'text', text: 'x' },
      { ...base, clientMsgId: 'has space', kind: 'text', text: 'x' },
      { ...base, clientMsgId: 'x'.repeat(65), kind: 'text', text: 'x' },
      { ...base, kind: 'system', text: 'x' },
      { ...base, kind: 'text' },
      { ...base, kind: 'file' },
      { ...base, kind: 'text', text: 'x', attachment: { url: 'https://a/b', name: 'n', size: 1, mime: 'image/png' } },
    ]) {
      expect(MessageSendSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('attachments: https only, size and MIME limits', () => {
    const ok = { url: 'https://cdn.example.com/a.png', name: 'a.png', size: 10, mime: 'image/png' };
    expect(MessageSendSchema.safeParse({ ...base, kind: 'file', attachment: ok }).success).toBe(true);
    for (const attachment of [
      { ...ok, url: 'http://cdn.example.com/a.png' },
      { ...ok, url: 'javascript:alert(1)' },
      { ...ok, size: 100 * 1024 * 1024 + 1 },
      { ...ok, mime: 'text/html' },
    ]) {
      expect(MessageSendSchema.safeParse({ ...base, kind: 'file', attachment }).success).toBe(false);
    }
  });

  it('attachment names refuse control and bidirectional control characters, naming the field', () => {
    const ok = { url: 'https://cdn.example.com/a', name: 'Résumé 2026 (final) 😀.pdf', size: 10, mime: 'application/pdf' };
    expect(MessageSendSchema.safeParse({ ...base, kind: 'file', attachment: ok }).success).toBe(true);
    for (const name of ['invoice\u202Efdp.exe', 'a\u2066b\u2069.png', 'a\u200Fb.png', 'a\u061Cb', 'a\u0000.png', 'a\nb.png', 'a\tb', 'a\u007Fb', 'a\u0085b']) {
      const res = MessageSendSchema.safeParse({ ...base, kind: 'file', attachment: { ...ok, name } });
      expect(res.success, JSON.stringify(name)).toBe(false);
      expect(res.error!.issues[0]!.path).toEqual(['attachment', 'name']);
    }
  });
});

describe('other payloads', () => {
  it('conversation:create is a discriminated union with strict members', () => {
    expect(ConversationCreateSchema.safeParse({ type: 'direct', peerId: 'bob' }).success).toBe(true);
    expect(ConversationCreateSchema.safeParse({ type: 'direct', peerId: 'bob', title: 'x' }).success).toBe(false);
    expect(ConversationCreateSchema.safeParse({ type: 'group', title: '  ' }).success).toBe(false);
    expect(ConversationCreateSchema.safeParse({ type: 'channel', title: 'news', public: true }).success).toBe(true);
  });

  it('sync limit is at most 200', () => {
    expect(SyncSchema.safeParse({ conversationId: 'c', afterSeq: 0, limit: 200 }).success).toBe(true);
    expect(SyncSchema.safeParse({ conversationId: 'c', afterSeq: 0, limit: 201 }).success).toBe(false);
    expect(SyncSchema.safeParse({ conversationId: 'c', afterSeq: -1 }).success).toBe(false);
  });

  it('history query parses integers from strings and refuses unknown parameters', () => {
    expect(HistoryQuerySchema.parse({ before: '10', limit: '5' })).toEqual({ before: 10, limit: 5 });
    expect(HistoryQuerySchema.safeParse({ limit: 'abc' }).success).toBe(false);
    expect(HistoryQuerySchema.safeParse({ limit: '201' }).success).toBe(false);
    expect(HistoryQuerySchema.safeParse({ foo: '1' }).success).toBe(false);
    expect(HistoryQuerySchema.safeParse({ before: '1', after: '2' }).success).toBe(false);
  });

  it('stripControlChars keeps newlines and tabs', () => {
    expect(stripControlChars('a\r\nb\tc\u001b[31m')).toBe('a\nb\tc[31m');
  });

  it('every client event has a payload and an ack schema', () => {
    // The loop below proves nothing about an empty or partial map.
    expect(Object.keys(CLIENT_EVENTS)).toEqual(
      expect.arrayContaining([
        'conversation:create',
        'conversation:join',
        'conversation:leave',
        'conversation:addMembers',
        'conversation:removeMember',
        'conversation:setRole',
        'conversation:sync',
        'message:send',
        'message:delivered',
        'message:read',
        'typing',
      ]),
    );
    for (const [name, def] of Object.entries(CLIENT_EVENTS)) {
      expect(def.payload, name).toBeDefined();
      expect(def.ack.safeParse({ ok: false, error: { code: 'INTERNAL', message: 'x' } }).success, name).toBe(true);
    }
  });
});

describe('typed event maps', () => {
  it('ack callbacks are typed per event', () => {
    expectTypeOf<PayloadOf<'message:read'>>().toEqualTypeOf<{ conversationId: string; seq: number }>();
    type SendAck = AckOf<'message:send'>;
    expectTypeOf<Extract<SendAck, { ok: true }>['duplicate']>().toEqualTypeOf<boolean>();
    type Send = ClientToServerEvents['message:send'];
    expectTypeOf<Parameters<Send>[0]['clientMsgId']>().toEqualTypeOf<string>();
    // @ts-expect-error typing takes a boolean
    const bad: PayloadOf<'typing'> = { conversationId: 'c', typing: 'yes' };
    void bad;
  });
});
