// The /v1 REST API (PROTOCOL.md §6). Order: authenticate (401) → per-user REST budget (429) →
// the resource routers, each of which declares its full path so the route table can be read
// back from the router stack (the OpenAPI coverage test does that).
import { Router } from 'express';
import type { RestDeps } from './deps.js';
import { requireAuth } from './auth.middleware.js';
import { createAdminDlqRouter } from '../ops/admin-dlq.router.js';
import { createConversationsRouter } from './conversations.router.js';
import { createMeRouter } from './me.router.js';
import { createMessageChangesRouter } from './message-changes.router.js';
import { createMessagesRouter } from './messages.router.js';
import { rateLimit } from './validate.js';

export function createV1Router(deps: RestDeps): Router {
  const router = Router();
  router.use(requireAuth(deps.verifyToken));
  router.use(rateLimit(deps.limiter, 'rest'));
  router.use(createConversationsRouter(deps));
  router.use(createMessagesRouter(deps));
  router.use(createMessageChangesRouter(deps));
  router.use(createMeRouter(deps));
  router.use(createAdminDlqRouter(deps));
  return router;
}
