// bull-board under /admin/queues, protected by an admin JWT or basic auth from config; never
// open by default. Filled in by the operations work (#7).
import { Router } from 'express';
import type { Queue } from 'bullmq';
import type { TokenVerifier } from '../auth/jwt.js';
import type { Config } from '../config.js';

export function createAdminQueuesRouter(_opts: { queues: Queue[]; verifyToken: TokenVerifier; admin: Config['admin'] }): Router {
  return Router();
}
