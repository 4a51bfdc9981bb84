// The REST error shape `{ error: { code, message } }` with the status of the code (§6).
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, toAppError, toWireError } from '../errors.js';
import type { Logger } from '../logger.js';

export const notFound: RequestHandler = (_req, _res, next) => next(new AppError('NOT_FOUND', 'no such route'));

export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let e = toAppError(err);
    // Errors raised by body-parser carry a status and a type.
    const status = (err as { status?: number; type?: string } | null)?.status;
    const type = (err as { type?: string } | null)?.type;
    if (type === 'entity.too.large' || status === 413) e = new AppError('PAYLOAD_TOO_LARGE', 'request body exceeds 64 KB');
    else if (type === 'entity.parse.failed') e = new AppError('INVALID_ARGUMENT', 'body: malformed JSON');
    else if (type === 'encoding.unsupported' || type === 'charset.unsupported') e = new AppError('INVALID_ARGUMENT', 'body: unsupported encoding');
    if (e.code === 'INTERNAL') log.error({ err: e.cause ?? e, requestId: res.locals.requestId, path: req.path }, 'request failed');
    if (e.retryAfterMs !== undefined) res.set('Retry-After', String(Math.ceil(e.retryAfterMs / 1000)));
    res.status(e.status).json({ error: toWireError(e) });
  };
}
