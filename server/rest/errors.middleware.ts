// The REST error shape `{ error: { code, message } }` with the status of the code (§6). Every
// error, body-parser's included, is mapped by the one `toAppError`.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, toAppError, toWireError } from '../errors.js';
import type { Logger } from '../logger.js';

export const notFound: RequestHandler = (_req, _res, next) => next(new AppError('NOT_FOUND', 'no such route'));

export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const e = toAppError(err);
    if (e.code === 'INTERNAL') log.error({ err: e.cause ?? e, requestId: res.locals.requestId, path: req.path }, 'request failed');
    if (e.retryAfterMs !== undefined) res.set('Retry-After', String(Math.ceil(e.retryAfterMs / 1000)));
    res.status(e.status).json({ error: toWireError(e) });
  };
}
