// The HTTP side of a node: one Express app behind one http.Server (which Socket.IO shares).
// The server is created first, empty, so the socket server can attach to it; the middleware
// stack is installed by serveHttp once the domain exists, before the port is opened.
import { createServer, type Server as HttpServer } from 'node:http';
import express, { type Express } from 'express';
import helmet from 'helmet';
import cors from 'cors';
import type { Queue } from 'bullmq';
import { LIMITS } from '../protocol/index.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { createAdminQueuesRouter } from './ops/admin-queues.router.js';
import { countHttpRequests } from './ops/instrument.js';
import type { RestDeps } from './rest/deps.js';
import { createDocsRouter } from './rest/docs.router.js';
import { errorMiddleware, notFound } from './rest/errors.middleware.js';
import { createHealthRouter, type ReadinessCheck } from './rest/health.router.js';
import { requestContext } from './rest/request.middleware.js';
import { createV1Router } from './rest/v1.router.js';
import { createWebRouter } from './rest/web.router.js';

export function createHttpServer(): { app: Express; server: HttpServer } {
  const app = express();
  return { app, server: createServer(app) };
}

export interface HttpOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  readiness: { isShuttingDown: () => boolean; checks: ReadinessCheck[] };
  /** What a gateway node serves beyond health: docs, the queue dashboard, the web client, /v1. */
  api?: { rest: RestDeps; dashboardQueues: Queue[] };
}

/** Installs the middleware stack in order; every error ends in the one error middleware. */
export function serveHttp(app: Express, opts: HttpOptions): void {
  const { config, metrics } = opts;
  const log = opts.logger.child({ module: 'rest' });
  app.disable('x-powered-by');
  // TRUST_PROXY (§1): unset trusts no proxy, so X-Forwarded-For cannot choose req.ip.
  app.set('trust proxy', config.http.trustProxy);
  app.use(helmet());
  app.use(requestContext(log));
  app.use(countHttpRequests(metrics));
  app.use(createHealthRouter({ metrics, ...opts.readiness }));

  if (opts.api) {
    const { rest, dashboardQueues } = opts.api;
    app.use('/docs', createDocsRouter());
    app.use('/admin/queues', createAdminQueuesRouter({ queues: dashboardQueues, verifyToken: rest.verifyToken, admin: config.admin, limiter: rest.limiter }));
    app.use(createWebRouter({ config }));
    // CORS first, so preflights and body-parser errors (413, malformed JSON) carry its headers;
    // an empty allow-list allows any origin, as for sockets (REST uses bearer tokens, no cookies).
    app.use(
      cors({
        origin: config.http.corsOrigins.length ? [...config.http.corsOrigins] : true,
        exposedHeaders: ['X-Request-Id', 'ETag', 'Retry-After'],
        maxAge: 600,
      }),
    );
    app.use(express.json({ limit: LIMITS.frameMaxBytes, strict: true }));
    app.use('/v1', createV1Router(rest));
  }

  app.use(notFound);
  app.use(errorMiddleware(log));
}

/** Opens the port (0 = ephemeral) and resolves with the bound one. */
export async function listen(server: HttpServer, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/** Stops accepting connections; resolves when the open ones have ended (or at once when closed). */
export function stopAccepting(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections?.();
    if (!server.listening) resolve();
  });
}
