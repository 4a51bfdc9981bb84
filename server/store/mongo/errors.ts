// Which MongoDB failures mean "database unavailable, retry later" (StoreUnavailableError →
// UNAVAILABLE) and which are ours to handle (duplicate keys). Written for what the driver
// (mongodb 6.x, and 7.x through mongo.durability.int.test.ts's proxy) really throws on a replica set:
// - `insertMany` wraps every failure in MongoBulkWriteError: a driver error (server selection
//   during an election, a closed pool, a timeout) ends up in `errorResponse`, not `cause`;
// - a write-concern failure (code 64 wtimeout, a step-down while waiting for majority, …) comes as
//   MongoWriteConcernError, or inside MongoBulkWriteError's `result`; when the batch also had
//   duplicate keys the driver throws only the `writeErrors` and the write-concern error is left
//   in `result` (see `duplicatePositions`);
// - labels (`RetryableWriteError`, …) sit on the error the driver built, codes on the server's.
import mongoose from 'mongoose';
import { InvalidArgumentStoreError, StoreUnavailableError } from '../store.js';

// Server error codes that mean "try again later": host/network trouble, elections and
// step-downs, shutdowns, timeouts. Everything else (duplicate key, bad value) is ours to handle.
const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  50, // MaxTimeMSExpired
  64, // WriteConcernFailed (wtimeout: the majority did not confirm in time)
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  202, // NetworkInterfaceExceededTimeLimit
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);
// Driver-side failures: no server selectable, broken socket, pool cleared, client closed,
// a server silent past the socket timeout, a write the majority did not confirm.
const UNAVAILABLE_NAMES = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoWaitQueueTimeoutError',
  'MongoOperationTimeoutError',
  'MongoWriteConcernError',
]);
const UNAVAILABLE_LABELS = ['RetryableWriteError', 'ResetPool', 'SystemOverloadedError'];
const MAX_DEPTH = 5;

/** The write-concern error a (bulk) write reported, if any: the write is then not durable. */
export function writeConcernErrorOf(err: unknown): unknown {
  const e = err as { writeConcernError?: unknown; result?: { getWriteConcernError?: () => unknown; writeConcernError?: unknown } } | null;
  if (!e || typeof e !== 'object') return undefined;
  return e.writeConcernError ?? e.result?.getWriteConcernError?.() ?? e.result?.writeConcernError;
}

export function isUnavailable(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > MAX_DEPTH) return false;
  if (err instanceof StoreUnavailableError) return true;
  if (UNAVAILABLE_NAMES.has(err.name)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && UNAVAILABLE_CODES.has(code)) return true;
  const hasLabel = (err as { hasErrorLabel?: (l: string) => boolean }).hasErrorLabel;
  if (typeof hasLabel === 'function' && UNAVAILABLE_LABELS.some((l) => hasLabel.call(err, l))) return true;
  // Any write-concern error: acknowledged by the primary but not by the majority, so not durable.
  if (writeConcernErrorOf(err) !== undefined) return true;
  // MongoBulkWriteError keeps the driver error it wraps in `errorResponse`.
  const wrapped = (err as { errorResponse?: unknown }).errorResponse;
  if (wrapped instanceof Error && wrapped !== err && isUnavailable(wrapped, depth + 1)) return true;
  return err.cause !== undefined && isUnavailable(err.cause, depth + 1);
}

/** Duplicate key on a unique index. */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 11000;
}

/**
 * For a failed unordered `insertMany`: the positions not stored because of a duplicate key, or
 * null when the server named none (jongodb rejects the whole batch, JONGODB.md #2; the caller
 * then settles each document alone). Rethrows anything else, including a write-concern error
 * reported beside the duplicates: the other documents are stored but not durable, and the
 * caller must not acknowledge them.
 */
export function duplicatePositions(err: unknown): Set<number> | null {
  const writeErrors = (err as { writeErrors?: unknown } | null)?.writeErrors;
  if (Array.isArray(writeErrors) && writeErrors.length > 0) {
    const list = writeErrors as { index: number; code?: number; err?: { code?: number } }[];
    if (list.some((w) => (w.code ?? w.err?.code) !== 11000)) throw err;
    if (writeConcernErrorOf(err) !== undefined) throw err;
    return new Set(list.map((w) => w.index));
  }
  if (isDuplicateKey(err) && writeConcernErrorOf(err) === undefined) return null;
  throw err;
}

/**
 * Turns a connection-level failure into StoreUnavailableError and a value mongoose could not cast
 * (an object where an id string belongs: what `sanitizeFilter` turns `{ $ne: … }` into) into
 * InvalidArgumentStoreError; anything else passes through as the bug it is.
 */
export function toStoreError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || err instanceof InvalidArgumentStoreError) return err;
  if (isUnavailable(err)) {
    return new StoreUnavailableError(`mongodb unavailable: ${(err as Error).message}`, { cause: err });
  }
  if (err instanceof mongoose.Error.CastError) {
    return new InvalidArgumentStoreError(`invalid value for ${err.path}`, { cause: err });
  }
  return err;
}

interface InsertTarget<T> {
  insertMany(docs: T[], options: { ordered: false }): Promise<unknown>;
  insertOne(doc: T): Promise<unknown>;
}

/**
 * Inserts every document that does not collide with a unique index, ignoring the ones that do.
 * Unordered, one round trip; where the server gives no per-document detail (jongodb rejects the
 * whole batch, JONGODB.md #2) it goes again one by one.
 */
export async function insertSkippingDuplicates<T>(target: InsertTarget<T>, docs: T[]): Promise<void> {
  try {
    await target.insertMany(docs, { ordered: false });
  } catch (err) {
    if (duplicatePositions(err)) return;
    for (const d of docs) {
      await target.insertOne(d).catch((e: unknown) => {
        if (!isDuplicateKey(e)) throw e;
      });
    }
  }
}
