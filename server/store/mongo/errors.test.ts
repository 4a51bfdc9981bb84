// Regression (#14 items 3 and 4): failover errors came back as INTERNAL, and a write-concern
// error was lost when a batch also had duplicates. These are failures only a real replica set
// produces (an election, a lagging majority), so the errors are built here with the driver's own
// classes, exactly the way its bulk-write path builds them (mongodb 6.x lib/bulk/common.js).
import { createRequire } from 'node:module';
import {
  MongoBulkWriteError,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoWriteConcernError,
  type WriteError as DriverWriteError,
} from 'mongodb';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../store.js';
import { duplicatePositions, isUnavailable, toStoreError } from './errors.js';

// Not exported from the package root; the driver builds MongoBulkWriteError's result with these.
const require = createRequire(import.meta.url);
const { BulkWriteResult, WriteConcernError, WriteError } = require('mongodb/lib/bulk/common.js') as {
  BulkWriteResult: new (bulkResult: object, ordered: boolean) => object;
  WriteConcernError: new (e: object) => object;
  WriteError: new (e: object) => DriverWriteError;
};

function bulkResult(writeErrors: object[], writeConcernErrors: object[]) {
  return new BulkWriteResult(
    { ok: 1, writeErrors, writeConcernErrors, insertedIds: [], nInserted: 3 - writeErrors.length, nUpserted: 0, nMatched: 0, nModified: 0, nRemoved: 0, upserted: [] },
    false,
  );
}
const duplicate = (index: number) => new WriteError({ index, code: 11000, errmsg: 'E11000 duplicate key error' });
const wtimeout = () => new WriteConcernError({ code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out', errInfo: { wtimeout: true } });

/** handleWriteError: per-document errors win; a write-concern error stays in `result` only. */
function duplicatesAndWriteConcern(): MongoBulkWriteError {
  const writeErrors: DriverWriteError[] = [duplicate(1)];
  return new MongoBulkWriteError({ message: 'E11000 duplicate key error', code: 11000, writeErrors }, bulkResult(writeErrors, [wtimeout()]) as never);
}
/** handleWriteError without writeErrors: the WriteConcernError itself is the "error". */
function writeConcernOnly(): MongoBulkWriteError {
  return new MongoBulkWriteError(wtimeout() as never, bulkResult([], [wtimeout()]) as never);
}
/** executeCommands: a driver error (no server during an election) wrapped as is. */
function wrapped(err: Error): MongoBulkWriteError {
  return new MongoBulkWriteError(err as never, bulkResult([], []) as never);
}
const selection = () =>
  new MongoServerSelectionError('Server selection timed out after 2000 ms', { error: new MongoNetworkError('connect ECONNREFUSED 10.0.0.1:27017') } as never);

describe('MongoDB errors → StoreUnavailableError', () => {
  it('unwraps a server-selection failure from MongoBulkWriteError (it sits in errorResponse, not cause)', () => {
    const err = wrapped(selection());
    expect(err.name).toBe('MongoBulkWriteError');
    expect(err.cause).toBeUndefined();
    expect(toStoreError(err)).toBeInstanceOf(StoreUnavailableError);
    expect(toStoreError(wrapped(new MongoOperationTimeoutError('Timed out during socket read (5000ms)')))).toBeInstanceOf(StoreUnavailableError);
  });

  it('maps a write-concern timeout (code 64) on a single write and on a batch', () => {
    const single = new MongoWriteConcernError({ ok: 1, n: 1, writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out' } } as never);
    expect(toStoreError(single)).toBeInstanceOf(StoreUnavailableError);
    expect(toStoreError(writeConcernOnly())).toBeInstanceOf(StoreUnavailableError);
    // The form the driver uses when the command itself fails with a write-concern error.
    expect(toStoreError(new MongoBulkWriteError({ message: 'waiting for replication timed out', code: 64 } as never, bulkResult([], [wtimeout()]) as never))).toBeInstanceOf(StoreUnavailableError);
  });

  it('maps the RetryableWriteError label, also on a server error with no known code', () => {
    const err = new MongoServerError({ ok: 0, code: 999_999, errmsg: 'something transient', errorLabels: ['RetryableWriteError'] });
    expect(isUnavailable(err)).toBe(true);
    expect(toStoreError(wrapped(err))).toBeInstanceOf(StoreUnavailableError);
  });

  it('leaves duplicate keys and unknown failures alone', () => {
    const dup = new MongoServerError({ ok: 0, code: 11000, errmsg: 'E11000 duplicate key error' });
    expect(toStoreError(dup)).toBe(dup);
    const writeErrors = [duplicate(0)];
    const bulkDup = new MongoBulkWriteError({ message: 'E11000', code: 11000, writeErrors }, bulkResult(writeErrors, []) as never);
    expect(toStoreError(bulkDup)).toBe(bulkDup);
    expect(isUnavailable(new MongoServerError({ ok: 0, code: 2, errmsg: 'BadValue' }))).toBe(false);
  });
});

describe('duplicatePositions', () => {
  it('returns the positions of duplicate keys', () => {
    const writeErrors = [duplicate(0), duplicate(2)];
    const err = new MongoBulkWriteError({ message: 'E11000', code: 11000, writeErrors }, bulkResult(writeErrors, []) as never);
    expect(duplicatePositions(err)).toEqual(new Set([0, 2]));
  });

  it('throws a write-concern error reported beside duplicates, so nothing of the batch is acked', () => {
    const err = duplicatesAndWriteConcern();
    expect(err.writeErrors).toHaveLength(1);
    expect(() => duplicatePositions(err)).toThrow(err);
    expect(toStoreError(err)).toBeInstanceOf(StoreUnavailableError);
  });

  it('answers null for a whole-batch duplicate without detail (jongodb) and rethrows anything else', () => {
    expect(duplicatePositions(new MongoServerError({ ok: 0, code: 11000, errmsg: 'E11000' }))).toBeNull();
    const other = wrapped(selection());
    expect(() => duplicatePositions(other)).toThrow(other);
  });
});
