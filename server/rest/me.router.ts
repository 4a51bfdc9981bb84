// GET and PUT /v1/me/settings: the caller's read-receipt privacy (§3, §6). With receipts off the
// caller's readSeq still counts their unread messages but is hidden from other members.
import { Router } from 'express';
import { SettingsSchema, type Settings } from '../../protocol/index.js';
import { identityOf } from './auth.middleware.js';
import type { RestDeps } from './deps.js';
import { NoQuerySchema, parse } from './validate.js';

export function createMeRouter(deps: RestDeps): Router {
  const router = Router();

  router.get('/me/settings', async (req, res) => {
    parse(NoQuerySchema, req.query, 'query');
    const body: Settings = await deps.messaging.messages.settings(identityOf(res).userId);
    res.set('Cache-Control', 'private, no-store').json(body);
  });

  router.put('/me/settings', async (req, res) => {
    parse(NoQuerySchema, req.query, 'query');
    const settings = parse(SettingsSchema, req.body, 'body');
    await deps.messaging.messages.setReadReceipts(identityOf(res).userId, settings.readReceipts);
    const body: Settings = { readReceipts: settings.readReceipts };
    res.json(body);
  });

  return router;
}
