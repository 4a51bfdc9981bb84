// The caller's settings: GET/PUT /v1/me/settings (read-receipt and presence privacy, §3, §6, §9)
// and GET/PUT /v1/conversations/:id/settings (mute: no offline push for that conversation).
// With receipts off the caller's readSeq still counts their unread messages but is hidden from
// other members; with presence off the caller is always offline to others.
import { Router } from 'express';
import {
  ConversationParamsSchema,
  ConversationSettingsSchema,
  SettingsUpdateSchema,
  type ConversationSettings,
  type Settings,
} from '../../protocol/index.js';
import { identityOf } from './auth.middleware.js';
import type { RestDeps } from './deps.js';
import { NoQuerySchema, parse } from './validate.js';

export function createMeRouter(deps: RestDeps): Router {
  const router = Router();
  async function current(userId: string): Promise<Settings> {
    const [{ readReceipts }, hidden] = await Promise.all([deps.messaging.messages.settings(userId), deps.settings.presence.isHidden(userId)]);
    return { readReceipts, presence: !hidden };
  }

  router.get('/me/settings', async (req, res) => {
    parse(NoQuerySchema, req.query, 'query');
    res.set('Cache-Control', 'private, no-store').json(await current(identityOf(res).userId));
  });

  router.put('/me/settings', async (req, res) => {
    parse(NoQuerySchema, req.query, 'query');
    const update = parse(SettingsUpdateSchema, req.body, 'body');
    const { userId } = identityOf(res);
    if (update.readReceipts !== undefined) await deps.messaging.messages.setReadReceipts(userId, update.readReceipts);
    if (update.presence !== undefined) await deps.settings.presence.setHidden(userId, !update.presence);
    res.json(await current(userId));
  });

  // Members only, answered like any other read of the conversation (404 hides private ones).
  router.get('/conversations/:id/settings', async (req, res) => {
    const { id } = parse(ConversationParamsSchema, req.params, 'params');
    parse(NoQuerySchema, req.query, 'query');
    const { userId } = identityOf(res);
    await deps.messaging.conversations.requireMember(id, userId);
    const body: ConversationSettings = { muted: await deps.settings.mutes.isMuted(id, userId) };
    res.set('Cache-Control', 'private, no-store').json(body);
  });

  router.put('/conversations/:id/settings', async (req, res) => {
    const { id } = parse(ConversationParamsSchema, req.params, 'params');
    parse(NoQuerySchema, req.query, 'query');
    const settings = parse(ConversationSettingsSchema, req.body, 'body');
    const { userId } = identityOf(res);
    await deps.messaging.conversations.requireMember(id, userId);
    await deps.settings.mutes.setMuted(id, userId, settings.muted);
    const body: ConversationSettings = settings;
    res.json(body);
  });

  return router;
}
