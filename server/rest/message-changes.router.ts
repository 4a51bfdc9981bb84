// Edits, deletions and reactions over REST (PROTOCOL.md §9), for bots and back-ends. Each route
// calls the same domain function as its socket event (`message:edit`, `message:delete`,
// `message:react`): same validation, permissions, rate limit (`change`), idempotency and
// delivery job. Reactions are a resource the caller puts or deletes, so repeating is harmless.
import { Router } from 'express';
import type { z } from 'zod';
import { EditMessageBodySchema, MessageParamsSchema, ReactionParamsSchema, type EditMessageResponseSchema } from '../../protocol/index.js';
import { identityOf } from './auth.middleware.js';
import type { RestDeps } from './deps.js';
import { NoQuerySchema, parse } from './validate.js';

export function createMessageChangesRouter(deps: RestDeps): Router {
  const router = Router();
  const { changes } = deps.messaging;
  const ref = (params: { id: string; messageId: string }) => ({ conversationId: params.id, messageId: params.messageId });

  router.patch('/conversations/:id/messages/:messageId', async (req, res) => {
    const params = parse(MessageParamsSchema, req.params, 'params');
    parse(NoQuerySchema, req.query, 'query');
    const { text } = parse(EditMessageBodySchema, req.body, 'body');
    const result: z.infer<typeof EditMessageResponseSchema> = await changes.edit(identityOf(res).userId, { ...ref(params), text });
    res.json(result);
  });

  router.delete('/conversations/:id/messages/:messageId', async (req, res) => {
    const params = parse(MessageParamsSchema, req.params, 'params');
    parse(NoQuerySchema, req.query, 'query');
    await changes.remove(identityOf(res).userId, ref(params));
    res.status(204).end();
  });

  for (const [method, on] of [['put', true], ['delete', false]] as const) {
    router[method]('/conversations/:id/messages/:messageId/reactions/:emoji', async (req, res) => {
      const params = parse(ReactionParamsSchema, req.params, 'params');
      parse(NoQuerySchema, req.query, 'query');
      await changes.react(identityOf(res).userId, { ...ref(params), emoji: params.emoji, on });
      res.status(204).end();
    });
  }

  return router;
}
