// `Authorization: Bearer <token>` on every /v1 route, verified exactly as the socket handshake.
import type { RequestHandler } from 'express';
import type { Identity, TokenVerifier } from '../auth/jwt.js';
import { AppError } from '../errors.js';

export function requireAuth(verifyToken: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match) return next(new AppError('UNAUTHENTICATED', 'missing bearer token'));
    try {
      res.locals.identity = verifyToken(match[1]);
      next();
    } catch (err) {
      next(err);
    }
  };
}

export const requireAdmin: RequestHandler = (_req, res, next) => {
  const identity = res.locals.identity as Identity | undefined;
  if (!identity?.roles.includes('admin')) return next(new AppError('FORBIDDEN', 'admin role required'));
  next();
};

/** The authenticated caller of a /v1 request. */
export function identityOf(res: { locals: Record<string, unknown> }): Identity {
  return res.locals.identity as Identity;
}
