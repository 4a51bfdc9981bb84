import type { TokenVerifier } from '../auth/jwt.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Messaging } from '../messaging/index.js';
import type { Limiter } from '../messaging/ports.js';
import type { Metrics } from '../metrics.js';
import type { Queue } from 'bullmq';
import type { Mutes } from '../push/mutes.js';

/** What the REST routers need; built by app.ts. */
export interface RestDeps {
  config: Config;
  logger: Logger;
  verifyToken: TokenVerifier;
  messaging: Messaging;
  limiter: Limiter;
  metrics: Metrics;
  /** Delivery and push queues and their dead-letter queues, for the admin routes. */
  queues: { delivery: Queue; deadLetter: Queue; push?: { queue: Queue; deadLetter: Queue } };
  /** Settings kept beside the features that read them: presence privacy, muted conversations. */
  settings: {
    presence: { isHidden(userId: string): Promise<boolean>; setHidden(userId: string, hidden: boolean): Promise<void> };
    mutes: Mutes;
  };
}
