// One error type for the whole server, one function that turns anything thrown into a wire
// error. Foreign errors are recognised by class (`instanceof`) or by a documented code field,
// never by message text. Unknown errors become INTERNAL with the cause kept for the log and
// hidden from clients.
import { z } from 'zod';
import { HTTP_STATUS, LIMITS, type ErrorCode, type WireError } from '../protocol/index.js';
import { ConflictStoreError, InvalidArgumentStoreError, NotFoundStoreError, StoreUnavailableError } from './store/store.js';

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

/**
 * A dependency did not answer (Redis, the delivery queue): the request did nothing and may be
 * retried. Thrown at the boundary that calls the dependency, with the client library's error as
 * `cause`, so nothing downstream has to recognise ioredis or BullMQ messages. (The store port has
 * its own `StoreUnavailableError`.)
 */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: 'redis' | 'queue',
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
  }
}

/**
 * `INVALID_ARGUMENT` naming the first bad field of a zod error; sockets and REST word a fault
 * alike. `part` says where the value came from (`body`, `query`, …; none for a socket payload).
 */
export function invalidArgument(error: z.ZodError, part?: string): AppError {
  const issue = error.issues[0];
  if (!issue) return new AppError('INVALID_ARGUMENT', `${part ?? 'payload'}: invalid`, part ? { field: part } : {});
  const path = issue.path.map(String);
  let message = issue.message;
  // A strict object reports unknown keys on the object itself; name the first of them.
  if (issue.code === 'unrecognized_keys') {
    path.push(issue.keys[0] ?? '');
    message = part === 'query' ? 'unknown parameter' : 'unknown field';
  }
  const field = [part, ...path].filter(Boolean).join('.');
  return new AppError('INVALID_ARGUMENT', `${field || 'payload'}: ${message}`, field ? { field } : {});
}

/** body-parser's errors carry a documented `type` (http-errors); each maps to one wire error. */
const BODY_PARSER_ERRORS: Readonly<Record<string, () => AppError>> = {
  'entity.too.large': () => new AppError('PAYLOAD_TOO_LARGE', `request body exceeds ${LIMITS.frameMaxBytes / 1024} KB`),
  'entity.parse.failed': () => new AppError('INVALID_ARGUMENT', 'body: malformed JSON'),
  'encoding.unsupported': () => new AppError('INVALID_ARGUMENT', 'body: unsupported encoding'),
  'charset.unsupported': () => new AppError('INVALID_ARGUMENT', 'body: unsupported encoding'),
};

function bodyParserError(err: unknown): AppError | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' && Object.hasOwn(BODY_PARSER_ERRORS, type) ? BODY_PARSER_ERRORS[type]!() : undefined;
}

/** Maps anything thrown to an AppError. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof z.ZodError) return invalidArgument(err);
  if (err instanceof StoreUnavailableError) return new AppError('UNAVAILABLE', 'storage is unavailable, retry later', { cause: err });
  if (err instanceof DependencyUnavailableError) return new AppError('UNAVAILABLE', `${err.dependency} is unavailable, retry later`, { cause: err });
  if (err instanceof NotFoundStoreError) return new AppError('NOT_FOUND', 'conversation not found', { cause: err });
  // The ids are the caller's own input; how many conversations those users are in is not said.
  if (err instanceof ConflictStoreError) return new AppError('CONFLICT', `already in the most conversations allowed: ${err.userIds.slice(0, 20).join(', ')}`, { cause: err });
  // The store's message names what was wrong; callers that know the field (REST cursors) say it.
  if (err instanceof InvalidArgumentStoreError) return new AppError('INVALID_ARGUMENT', err.message, { cause: err });
  return bodyParserError(err) ?? new AppError('INTERNAL', 'internal error', { cause: err });
}

/** The wire shape of an error: only code, message and the safe extras. */
export function toWireError(err: unknown): WireError {
  const e = toAppError(err);
  const wire: WireError = { code: e.code, message: e.message };
  if (e.retryAfterMs !== undefined) wire.retryAfterMs = e.retryAfterMs;
  if (e.field !== undefined) wire.field = e.field;
  return wire;
}
