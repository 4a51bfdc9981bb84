import { z } from 'zod';

/**
 * The closed set of wire error codes (PROTOCOL.md §4). Every failed acknowledgement and every
 * REST error body carries exactly one of these.
 *
 * @example
 * socket.emit('message:send', payload, (res) => {
 *   if (!res.ok && res.error.code === 'RATE_LIMITED') setTimeout(retry, res.error.retryAfterMs);
 * });
 */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'INVALID_ARGUMENT',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'CONFLICT',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export const ErrorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

/** HTTP status for each code (PROTOCOL.md §6). One table, used by REST and the docs. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
});

/** The error object inside a failed ack and inside a REST error body. */
export const WireErrorSchema = z.strictObject({
  code: ErrorCodeSchema,
  message: z.string(),
  /** Present with `RATE_LIMITED`: wait at least this long before retrying. */
  retryAfterMs: z.number().int().nonnegative().optional(),
  /** The dotted path of the offending field, with `INVALID_ARGUMENT`. */
  field: z.string().optional(),
});
export type WireError = z.infer<typeof WireErrorSchema>;

/** REST error body: `{ error: { code, message } }`. */
export const ErrorBodySchema = z.strictObject({ error: WireErrorSchema });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Failed acknowledgement: `{ ok: false, error }`. */
export const AckErrorSchema = z.strictObject({ ok: z.literal(false), error: WireErrorSchema });
export type AckError = z.infer<typeof AckErrorSchema>;

/** An acknowledgement: `{ ok: true, ...data }` or `{ ok: false, error }`. */
export type Ack<T extends object = Record<never, never>> = ({ ok: true } & T) | AckError;

/** Builds the zod schema of an ack from the schema of its ok data. */
export function ackSchema<T extends z.ZodRawShape>(okShape: T) {
  return z.union([z.strictObject({ ok: z.literal(true), ...okShape }), AckErrorSchema]);
}
