// bull-board under /admin/queues, for operators only; never open by default. Who gets in:
// - `Authorization: Bearer <jwt>` whose claims carry `roles: ["admin"]` (API clients, curl);
// - `Authorization: Basic` matching ADMIN_BASIC_AUTH (`user:password`), when it is set;
// - a browser: open `/admin/queues?token=<admin jwt>` once; the token is checked, moved into an
//   HttpOnly, SameSite=Strict cookie scoped to this path, and the URL is redirected without it
//   (so it does not stay in history, Referer headers or access logs). The cookie is verified
//   like the header on every request, so it stops working when the token expires.
// A valid token without the admin role gets 403; anything else 401.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Limiter } from '../messaging/ports.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { Config } from '../config.js';
import { AppError, toAppError } from '../errors.js';

export const ADMIN_QUEUES_PATH = '/admin/queues';
/** Cookie that carries the admin JWT for the browser UI (path-scoped, HttpOnly). */
export const ADMIN_COOKIE = 'admin_token';
const ADMIN_ROLE = 'admin';
const MAX_COOKIE_AGE_S = 8 * 3600; // 8 h, or the token's own expiry when sooner

export interface AdminQueuesOptions {
  queues: Queue[];
  verifyToken: TokenVerifier;
  admin: Config['admin'];
  /** Where the router is mounted (bull-board builds its links from it). */
  basePath?: string;
  /** Failed Basic attempts count per client IP (family `handshake`); RATE_LIMITED beyond (§7). */
  limiter?: Limiter;
}

type Refusal = { ok: false; error: AppError };
type Verdict = { ok: true } | Refusal;

const unauthenticated = (message: string): Refusal => ({ ok: false, error: new AppError('UNAUTHENTICATED', message) });

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Equal-length digests, so neither the content nor the length of the secret leaks by timing. */
function secretEquals(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Text of JSON job data with every `text` field replaced by its length: admins see shapes, not chats. */
export function redactJobData(data: unknown, depth = 0): unknown {
  if (depth > 8 || data === null || typeof data !== 'object') return data;
  if (Array.isArray(data)) return data.map((v) => redactJobData(v, depth + 1));
  return Object.fromEntries(
    Object.entries(data as Record<string, unknown>).map(([k, v]) =>
      k === 'text' && typeof v === 'string' ? [k, `[${v.length} chars redacted]`] : [k, redactJobData(v, depth + 1)],
    ),
  );
}

export function createAdminQueuesRouter(opts: AdminQueuesOptions): Router {
  const basePath = opts.basePath ?? ADMIN_QUEUES_PATH;
  const basic = opts.admin.basicAuth ? digest(opts.admin.basicAuth) : undefined;

  function checkToken(token: string): Verdict {
    try {
      const identity = opts.verifyToken(token);
      if (!identity.roles.includes(ADMIN_ROLE)) return { ok: false, error: new AppError('FORBIDDEN', 'the admin role is required') };
      return { ok: true };
    } catch (err) {
      return unauthenticated(toAppError(err).message);
    }
  }

  function checkAuthorization(header: string): Verdict {
    const space = header.indexOf(' ');
    const scheme = (space > 0 ? header.slice(0, space) : header).toLowerCase();
    const value = space > 0 ? header.slice(space + 1).trim() : '';
    if (scheme === 'bearer') return checkToken(value);
    if (scheme === 'basic' && basic) {
      const given = Buffer.from(value, 'base64').toString('utf8');
      return secretEquals(given, basic) ? { ok: true } : unauthenticated('bad credentials');
    }
    return unauthenticated('unsupported authorization');
  }

  /** The refusal goes to the app's error middleware, like every other wire error. */
  function refuse(res: Response, next: NextFunction, verdict: Refusal): void {
    if (verdict.error.code === 'UNAUTHENTICATED') {
      // A browser shows its login prompt only for Basic; without basic auth configured it
      // cannot log in here at all (use ?token=).
      res.set('WWW-Authenticate', basic ? 'Basic realm="relaygate queues", charset="UTF-8"' : 'Bearer realm="relaygate queues"');
    }
    next(verdict.error);
  }

  const authenticate: RequestHandler = (req, res, next) => {
    res.set('Cache-Control', 'no-store');
    const authorization = req.get('authorization');
    if (authorization) {
      const verdict = checkAuthorization(authorization);
      if (verdict.ok) return next();
      // A wrong password costs the guesser: past the budget the answer is RATE_LIMITED.
      if (!opts.limiter || !/^basic /i.test(authorization)) return refuse(res, next, verdict);
      opts.limiter.consume('handshake', `admin-basic:${req.ip ?? 'unknown'}`).then(() => refuse(res, next, verdict), next);
      return;
    }

    const queryToken = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (queryToken !== undefined && req.method === 'GET') {
      const verdict = checkToken(queryToken);
      if (!verdict.ok) return refuse(res, next, verdict);
      const expiresInS = Math.floor((opts.verifyToken(queryToken).expiresAt - Date.now()) / 1000);
      res.cookie(ADMIN_COOKIE, queryToken, {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.secure,
        path: basePath,
        maxAge: Math.max(1, Math.min(expiresInS, MAX_COOKIE_AGE_S)) * 1000,
      });
      const clean = new URL(req.originalUrl, 'http://local');
      clean.searchParams.delete('token');
      res.redirect(303, `${clean.pathname}${clean.search}`);
      return;
    }

    const cookieToken = readCookie(req, ADMIN_COOKIE);
    if (cookieToken) {
      const verdict = checkToken(cookieToken);
      if (verdict.ok) return next();
      res.clearCookie(ADMIN_COOKIE, { path: basePath });
      return refuse(res, next, verdict);
    }
    refuse(res, next, unauthenticated('admin credentials required'));
  };

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  const adapters = opts.queues.map((queue) => {
    const adapter = new BullMQAdapter(queue, { description: `BullMQ queue ${queue.name}`, readOnlyMode: true });
    adapter.setFormatter('data', (data: unknown) => redactJobData(data));
    return adapter;
  });
  createBullBoard({ queues: adapters, serverAdapter, options: { uiConfig: { boardTitle: 'relaygate queues' } } });

  const router = Router();
  router.use(authenticate);
  // Read-only (§7): the adapters hide the buttons, and no request may change a queue either
  // (adding a job here would be emitted live by a worker without ever being stored).
  router.use((req, _res, next) => (req.method === 'GET' || req.method === 'HEAD' ? next() : next(new AppError('FORBIDDEN', 'the queue dashboard is read-only'))));
  // The app-wide helmet policy forbids the web fonts bull-board's page links and upgrades
  // http to https, which breaks the board on a plain-http admin port; this route gets its own.
  router.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          baseUri: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
          fontSrc: ["'self'", 'data:', 'https://fonts.gstatic.com'],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          frameAncestors: ["'none'"],
          formAction: ["'self'"],
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );
  router.use(serverAdapter.getRouter() as RequestHandler);
  return router;
}
