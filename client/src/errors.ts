// One error type for everything the library rejects with: the wire error of a failed ack or
// REST call, or UNAVAILABLE when offline or no answer came in time.
import type { ErrorCode, WireError } from '../../protocol/index.js';

export class ClientError extends Error {
  override name = 'ClientError';
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;
  readonly field: string | undefined;
  constructor(
    wire: WireError,
    /** HTTP status for REST errors; 0 when the network failed. */
    readonly status?: number,
    /** Set when the library decided without an answer from the server: not sent (offline), the socket dropped while waiting, or no ack in time. */
    readonly local?: LocalReason,
  ) {
    super(`${wire.code}: ${wire.message}`);
    this.code = wire.code;
    this.retryAfterMs = wire.retryAfterMs;
    this.field = wire.field;
  }
}

/** Worth retrying unchanged (same clientMsgId) after a back-off: nothing was decided for good. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL']);

export function isTransient(err: unknown): boolean {
  return !(err instanceof ClientError) || TRANSIENT.has(err.code);
}

export type LocalReason = 'offline' | 'disconnected' | 'timeout';

export const unavailable = (local: LocalReason, message: string): ClientError => new ClientError({ code: 'UNAVAILABLE', message }, undefined, local);
