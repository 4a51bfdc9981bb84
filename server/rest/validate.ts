// Request validation with the protocol's zod schemas. A failure is INVALID_ARGUMENT naming the
// part of the request and the field (`query.limit`, `body.text`, `header.Idempotency-Key`), so a
// client can tell `?limit=abc` from a bad body without reading the message.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { invalidArgument } from '../errors.js';
import type { LimitFamily, Limiter } from '../messaging/ports.js';
import { identityOf } from './auth.middleware.js';

export type RequestPart = 'query' | 'params' | 'body' | 'header';

/** Parses `value` with `schema` or throws INVALID_ARGUMENT naming `<part>.<field>`. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, part: RequestPart): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidArgument(result.error, part);
}

/** The query of a route that takes no parameters: any parameter is unknown, hence a 400. */
export const NoQuerySchema = z.strictObject({});

/** Consumes one point of `family` for the authenticated caller; 429 with Retry-After beyond. */
export function rateLimit(limiter: Limiter, family: LimitFamily): RequestHandler {
  return async (_req, res, next) => {
    await limiter.consume(family, identityOf(res).userId);
    next();
  };
}
