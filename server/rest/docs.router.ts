// GET /docs (a readable page) and GET /docs/openapi.json (OpenAPI 3.1 generated from the zod
// schemas of protocol/). Filled in by the REST work (#5).
import { Router } from 'express';

export function createDocsRouter(): Router {
  return Router();
}
