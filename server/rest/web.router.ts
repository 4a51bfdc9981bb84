// The web client (static files at /, built from web/ into dist/web) and, only with DEV_LOGIN=1,
// POST /dev/login that mints short-lived tokens for any user name. Mounted before the global
// JSON parser, so /dev/login brings its own (small) one.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { UserIdSchema } from '../../protocol/index.js';
import type { Config, JwtKey } from '../config.js';
import { AppError, invalidArgument } from '../errors.js';

/** Lifetime of a development token; the web client logs in again when its socket expires. */
export const DEV_TOKEN_TTL_SEC = 15 * 60; // 15 min

// Run from source (tsx: server/rest/web.router.ts) or compiled (dist/server/rest/web.router.js):
// the bundle is always <repo>/dist/web.
const HERE = dirname(fileURLToPath(import.meta.url));
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const REPO_ROOT = FROM_SOURCE ? resolve(HERE, '../..') : resolve(HERE, '../../..');
export const WEB_DIST_DIR = join(REPO_ROOT, 'dist', 'web');

const DevLoginBodySchema = z.strictObject({ userId: UserIdSchema.refine((s) => s.trim() === s, 'must not start or end with spaces') });

export function createWebRouter(opts: { config: Config }): Router {
  const router = Router();
  if (opts.config.devLogin) router.post('/dev/login', express.json({ limit: '1kb', strict: true }), devLogin(opts.config.auth));

  const ready = FROM_SOURCE ? (building ??= buildIfStale()) : Promise.resolve();
  ready.catch(() => {}); // reported per request below, not as an unhandled rejection
  const serve = express.static(WEB_DIST_DIR, { index: 'index.html', cacheControl: true, maxAge: 0, fallthrough: true });
  router.use((req, res, next) => {
    // dist/web is flat: API paths (/v1/…, /docs/…) never touch the disk here.
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !/^\/[\w.-]*$/.test(req.path)) return next();
    ready.then(
      () => {
        if (req.path === '/' && !existsSync(join(WEB_DIST_DIR, 'index.html'))) {
          return next(new AppError('NOT_FOUND', 'the web client is not built: run `npm run build:web`'));
        }
        serve(req, res, next);
      },
      (err: unknown) => next(new AppError('UNAVAILABLE', 'the web client failed to build', { cause: err })),
    );
  });
  return router;
}

/** The key that can sign development tokens: HS256 only (the server holds no private key). */
function signingKey(auth: Config['auth']): JwtKey | undefined {
  return auth.keys.find((k) => k.algorithms.includes('HS256'));
}

function devLogin(auth: Config['auth']): RequestHandler {
  const key = signingKey(auth);
  return (req, res, next) => {
    if (!key) {
      return next(new AppError('UNAVAILABLE', 'DEV_LOGIN needs an HS256 key to sign with: set JWT_SECRET (or an HS key in JWT_KEYS)'));
    }
    const parsed = DevLoginBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) return next(invalidArgument(parsed.error));
    const { userId } = parsed.data;
    // Never any roles: a development login is an ordinary user.
    const token = jwt.sign({ sub: userId }, key.key, {
      algorithm: 'HS256',
      expiresIn: DEV_TOKEN_TTL_SEC,
      ...(key.kid !== undefined ? { keyid: key.kid } : {}),
      ...(auth.issuer ? { issuer: auth.issuer } : {}),
      ...(auth.audience ? { audience: auth.audience } : {}),
    });
    res.set('Cache-Control', 'no-store');
    res.json({ userId, token, expiresAt: new Date(Date.now() + DEV_TOKEN_TTL_SEC * 1000).toISOString() });
  };
}

/** One build per process, shared by every in-process node (tests start several). */
let building: Promise<void> | undefined;

/**
 * From source (npm run dev, tests), (re)builds the bundle when it is missing or older than any
 * file under web/src or web/public, so a restart picks up client changes. The compiled server
 * never builds: `npm run build` made the bundle, and esbuild is only a devDependency.
 */
async function buildIfStale(): Promise<void> {
  const bundle = join(WEB_DIST_DIR, 'app.js');
  const sources = [join(REPO_ROOT, 'web', 'src'), join(REPO_ROOT, 'web', 'public')];
  if (existsSync(bundle)) {
    const built = statSync(bundle).mtimeMs;
    if (!sources.some((dir) => newestMtime(dir) > built)) return;
  }
  const buildScript = pathToFileURL(join(REPO_ROOT, 'web', 'build.ts')).href;
  const mod = (await import(buildScript)) as { buildWeb(): Promise<unknown> };
  await mod.buildWeb();
}

function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}
