// GET /v1/conversations, /v1/conversations/:id and /v1/conversations/:id/members (§6).
// Membership checks go through the domain's requireMember, so REST and sockets answer a
// non-member the same way: 404 for a private conversation (existence does not leak), 403 for a
// public one (anyone may learn it exists and join it).
import { Router } from 'express';
import {
  ConversationParamsSchema,
  LIMITS,
  ListConversationsQuerySchema,
  ListMembersQuerySchema,
  type ConversationListItem,
  type GetConversationResponseSchema,
  type ListConversationsResponse,
  type ListMembersResponseSchema,
  type Member,
} from '../../protocol/index.js';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import { InvalidArgumentStoreError, type ConversationSummary } from '../store/store.js';
import { identityOf } from './auth.middleware.js';
import type { RestDeps } from './deps.js';
import { NoQuerySchema, parse, rateLimit } from './validate.js';

export function toListItem(s: ConversationSummary): ConversationListItem {
  return { ...s.conversation, role: s.role, unread: s.unread, ...(s.lastMessage ? { lastMessage: s.lastMessage } : {}) };
}

/** A member as another member sees it: `readSeq` only when its owner shares read receipts. */
export function toVisibleMember(m: Member & { readReceipts: boolean }, viewerId: string): Member {
  const { readReceipts, readSeq, ...rest } = m;
  const shown = readReceipts || m.userId === viewerId;
  return { ...rest, ...(shown && readSeq !== undefined ? { readSeq } : {}) };
}

/** Store cursors are opaque; a malformed one is the client's query parameter that is wrong. */
async function withCursor<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof InvalidArgumentStoreError)
      throw new AppError('INVALID_ARGUMENT', 'query.cursor: malformed cursor', { field: 'query.cursor', cause: err });
    throw err;
  }
}

export function createConversationsRouter(deps: RestDeps): Router {
  const router = Router();
  const { conversations } = deps.messaging;
  const read = rateLimit(deps.limiter, 'read');

  router.get('/conversations', read, async (req, res) => {
    const q = parse(ListConversationsQuerySchema, req.query, 'query');
    const { userId } = identityOf(res);
    const page = await withCursor(() =>
      deps.store.listConversations(userId, { limit: q.limit ?? LIMITS.pageDefault, ...(q.cursor ? { cursor: q.cursor } : {}) }),
    );
    const body: ListConversationsResponse = {
      conversations: page.items.map(toListItem),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
    res.set('Cache-Control', 'private, no-store').json(body);
  });

  router.get('/conversations/:id', async (req, res) => {
    const { id } = parse(ConversationParamsSchema, req.params, 'params');
    parse(NoQuerySchema, req.query, 'query');
    const body: z.infer<typeof GetConversationResponseSchema> = await conversations.requireMember(id, identityOf(res).userId);
    res.set('Cache-Control', 'private, no-store').json(body);
  });

  router.get('/conversations/:id/members', read, async (req, res) => {
    const { id } = parse(ConversationParamsSchema, req.params, 'params');
    const q = parse(ListMembersQuerySchema, req.query, 'query');
    const { userId } = identityOf(res);
    await conversations.requireMember(id, userId);
    const page = await withCursor(() =>
      deps.store.listMembers(id, { limit: q.limit ?? LIMITS.pageDefault, ...(q.cursor ? { cursor: q.cursor } : {}) }),
    );
    const body: z.infer<typeof ListMembersResponseSchema> = {
      members: page.items.map((m) => toVisibleMember(m, userId)),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
    res.set('Cache-Control', 'private, no-store').json(body);
  });

  return router;
}
