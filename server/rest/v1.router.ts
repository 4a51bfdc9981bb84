// The /v1 REST API (PROTOCOL.md §6). Routers per resource are mounted here.
import { Router } from 'express';
import type { RestDeps } from './deps.js';
import { requireAuth } from './auth.middleware.js';

export function createV1Router(deps: RestDeps): Router {
  const router = Router();
  router.use(requireAuth(deps.verifyToken));
  return router;
}
