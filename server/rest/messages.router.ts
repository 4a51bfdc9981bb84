// GET and POST /v1/conversations/:id/messages (§6). Both call the same domain functions as the
// socket events: history is `conversation:sync`'s keyset paging in both directions, and a POST
// is `message:send` (same validation, authorisation, rate limit, idempotency, delivery job),
// with the `Idempotency-Key` header as its clientMsgId.
import { createHash } from 'node:crypto';
import { Router } from 'express';
import type { z } from 'zod';
import {
  ConversationParamsSchema,
  HistoryQuerySchema,
  MessageBodySchema,
  PostMessageHeadersSchema,
  type HistoryResponse,
  type PostMessageResponseSchema,
} from '../../protocol/index.js';
import { identityOf } from './auth.middleware.js';
import type { RestDeps } from './deps.js';
import { NoQuerySchema, parse } from './validate.js';

/**
 * A page is identified by its bounds, its size, its cursors and the latest change of any of its
 * messages (an edit, deletion or reaction raises that message's `updatedSeq`, §9); the tag
 * costs a hash of a few numbers instead of the body.
 */
export function historyEtag(conversationId: string, page: HistoryResponse): string {
  const first = page.messages[0]?.seq ?? '';
  const last = page.messages.at(-1)?.seq ?? '';
  const changed = page.messages.reduce((top, m) => Math.max(top, m.updatedSeq ?? 0), 0);
  const key = [conversationId, first, last, page.messages.length, page.nextBefore ?? '', page.nextAfter ?? '', changed].join(':');
  return `W/"h-${createHash('sha1').update(key).digest('base64url').slice(0, 22)}"`;
}

/** RFC 9110 weak comparison of an If-None-Match list against one tag. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || opaque(t) === opaque(etag));
}

export function createMessagesRouter(deps: RestDeps): Router {
  const router = Router();
  const { messages } = deps.messaging;

  router.get('/conversations/:id/messages', async (req, res) => {
    const { id } = parse(ConversationParamsSchema, req.params, 'params');
    const q = parse(HistoryQuerySchema, req.query, 'query');
    const page = await messages.history(identityOf(res).userId, { conversationId: id, ...q });
    const etag = historyEtag(id, page);
    res.set({ 'Cache-Control': 'private, no-store', ETag: etag });
    if (matches(req.get('if-none-match'), etag)) {
      res.status(304).end();
      return;
    }
    res.json(page);
  });

  router.post('/conversations/:id/messages', async (req, res) => {
    const { id } = parse(ConversationParamsSchema, req.params, 'params');
    parse(NoQuerySchema, req.query, 'query');
    const headers = parse(PostMessageHeadersSchema, { 'idempotency-key': req.get('idempotency-key') }, 'header');
    const body = parse(MessageBodySchema, req.body, 'body');
    const { message, duplicate } = await messages.send(identityOf(res).userId, {
      conversationId: id,
      clientMsgId: headers['idempotency-key'],
      ...body,
    });
    const result: z.infer<typeof PostMessageResponseSchema> = { message, duplicate };
    res.status(duplicate ? 200 : 201).json(result);
  });

  return router;
}
