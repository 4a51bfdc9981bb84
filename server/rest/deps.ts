import type { TokenVerifier } from '../auth/jwt.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Messaging } from '../messaging/index.js';
import type { Limiter } from '../messaging/ports.js';
import type { Metrics } from '../metrics.js';
import type { Queue } from 'bullmq';

/** What the REST routers need; built by app.ts. */
export interface RestDeps {
  config: Config;
  logger: Logger;
  verifyToken: TokenVerifier;
  messaging: Messaging;
  limiter: Limiter;
  metrics: Metrics;
  /** Delivery and dead-letter queues, for the admin routes. */
  queues: { delivery: Queue; deadLetter: Queue };
}
