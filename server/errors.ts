// One error type for the whole server, one function that turns anything thrown into a wire
// error. Unknown errors become INTERNAL with the cause kept for the log and hidden from clients.
import { z } from 'zod';
import { HTTP_STATUS, type ErrorCode, type WireError } from '../protocol/index.js';
import { InvalidArgumentStoreError, NotFoundStoreError, StoreUnavailableError } from './store/store.js';

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly retryAfterMs?: number;
  readonly field?: string;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; retryAfterMs?: number; field?: string } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
    if (opts.field !== undefined) this.field = opts.field;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

/** `INVALID_ARGUMENT` naming the first bad field of a zod error. */
export function invalidArgument(error: z.ZodError, prefix = ''): AppError {
  const issue = error.issues[0];
  const path = issue ? [prefix, ...issue.path.map(String)].filter(Boolean).join('.') : prefix;
  const message = issue ? `${path || 'payload'}: ${issue.message}` : 'invalid payload';
  return new AppError('INVALID_ARGUMENT', message, { field: path || undefined });
}

/** Errors from Redis clients (ioredis, BullMQ) that mean "Redis is not there right now". */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const msg = err.message;
  return (
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Command timed out|MaxRetriesPerRequest|LOADING/i.test(
      msg,
    ) || err.name === 'MaxRetriesPerRequestError'
  );
}

/** Maps anything thrown to an AppError. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof z.ZodError) return invalidArgument(err);
  if (err instanceof StoreUnavailableError) return new AppError('UNAVAILABLE', 'storage is unavailable, retry later', { cause: err });
  if (err instanceof NotFoundStoreError) return new AppError('NOT_FOUND', 'conversation not found', { cause: err });
  // The store's message names what was wrong; callers that know the field (REST cursors) say it.
  if (err instanceof InvalidArgumentStoreError) return new AppError('INVALID_ARGUMENT', err.message, { cause: err });
  if (isRedisUnavailable(err)) return new AppError('UNAVAILABLE', 'queue is unavailable, retry later', { cause: err });
  return new AppError('INTERNAL', 'internal error', { cause: err });
}

/** The wire shape of an error: only code, message and the safe extras. */
export function toWireError(err: unknown): WireError {
  const e = toAppError(err);
  const wire: WireError = { code: e.code, message: e.message };
  if (e.retryAfterMs !== undefined) wire.retryAfterMs = e.retryAfterMs;
  if (e.field !== undefined) wire.field = e.field;
  return wire;
}
