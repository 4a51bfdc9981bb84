// GET /v1/conversations, /v1/conversations/:id and /v1/conversations/:id/members (§6). Every
// read goes through the domain, so REST and sockets answer a non-member the same way (404 for a
// private conversation, existence does not leak; 403 for a public one) and the read-receipt
// privacy rule is applied in one place.
import { Router } from 'express';
import type { z } from 'zod';
import {
  ConversationParamsSchema,
  ListConversationsQuerySchema,
  ListMembersQuerySchema,
  type GetConversationResponseSchema,
  type ListConversationsResponse,
  type ListMembersResponseSchema,
} from '../../protocol/index.js';
import { AppError } from '../errors.js';
import { InvalidArgumentStoreError } from '../store/store.js';
import { identityOf } from './auth.middleware.js';
import type { RestDeps } from './deps.js';
import { NoQuerySchema, parse } from './validate.js';

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

  router.get('/conversations', async (req, res) => {
    const q = parse(ListConversationsQuerySchema, req.query, 'query');
    const body: ListConversationsResponse = await withCursor(() => conversations.list(identityOf(res).userId, q));
    res.set('Cache-Control', 'private, no-store').json(body);
  });

  router.get('/conversations/:id', async (req, res) => {
    const { id } = parse(ConversationParamsSchema, req.params, 'params');
    parse(NoQuerySchema, req.query, 'query');
    const body: z.infer<typeof GetConversationResponseSchema> = await conversations.requireMember(id, identityOf(res).userId);
    res.set('Cache-Control', 'private, no-store').json(body);
  });

  router.get('/conversations/:id/members', async (req, res) => {
    const { id } = parse(ConversationParamsSchema, req.params, 'params');
    const q = parse(ListMembersQuerySchema, req.query, 'query');
    const body: z.infer<typeof ListMembersResponseSchema> = await withCursor(() => conversations.listMembers(identityOf(res).userId, id, q));
    res.set('Cache-Control', 'private, no-store').json(body);
  });

  return router;
}
