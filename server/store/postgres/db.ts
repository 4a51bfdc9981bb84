// Connection plumbing of the PostgreSQL adapter: the pool (int8 as numbers, fail-fast connects),
// the one place that decides which errors mean "database unavailable", and small query helpers
// that give a connection back to the pool unless the connection itself is broken.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreUnavailableError } from '../store.js';

export interface PoolOptions {
  url: string;
  poolSize?: number;
  statementTimeoutMs?: number;
}

export const POOL_DEFAULTS = Object.freeze({
  poolSize: 10,
  statementTimeoutMs: 5_000, // 5 s: a statement running longer means the database is in trouble
  connectionTimeoutMs: 2_000, // 2 s: an unreachable database fails fast
  idleTimeoutMs: 30_000, // 30 s
});

// Sequences and counts are int8; every value we store fits in a double (seq ≤ 2^53 by SeqSchema).
const parseInt8 = (value: string): number => Number(value);
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? POOL_DEFAULTS.poolSize,
    connectionTimeoutMillis: POOL_DEFAULTS.connectionTimeoutMs,
    idleTimeoutMillis: POOL_DEFAULTS.idleTimeoutMs,
    statement_timeout: opts.statementTimeoutMs ?? POOL_DEFAULTS.statementTimeoutMs,
    keepAlive: true,
    // Short OLTP statements never win from JIT; it only adds tens of ms when a plan's cost
    // estimate crosses jit_above_cost (seen on listConversations with large pages).
    options: '-c jit=off',
    types,
  });
  // An idle connection the server drops (restart, failover, pg_terminate_backend) emits here;
  // the pool has already discarded it and the next query opens a new one.
  pool.on('error', () => {});
  return pool;
}

/** PostgreSQL error codes the adapter reacts to. */
export const PgCode = Object.freeze({
  uniqueViolation: '23505',
  invalidCatalogName: '3D000', // database does not exist
  duplicateDatabase: '42P04',
});

// Node socket errors and SQLSTATE classes that mean "try again later": 08 connection exception,
// 53 insufficient resources (too many connections, disk full), 57 operator intervention
// (57014 statement timeout / cancel, 57P01 admin shutdown, 57P03 cannot connect now).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57']);
// pg and pg-pool raise these as plain Errors without a code, so the message is all there is.
const DRIVER_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|not queryable|Cannot use a pool after calling end|Client was closed/i;

export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof StoreUnavailableError) return true;
  const code = codeOf(err);
  if (code) {
    if (NETWORK_CODES.has(code)) return true;
    if (code.length === 5 && UNAVAILABLE_CLASSES.has(code.slice(0, 2))) return true;
    if (code === PgCode.invalidCatalogName) return true; // database dropped under us
  }
  if (err instanceof AggregateError) return err.errors.some(isUnavailable); // dual-stack connects
  if (DRIVER_MESSAGES.test(err.message)) return true;
  return err.cause !== undefined && isUnavailable(err.cause);
}

/** Turns a connection-level failure into StoreUnavailableError; anything else passes through. */
export function toStoreError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || !isUnavailable(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`postgres unavailable: ${message || codeOf(err) || 'unknown error'}`, { cause: err });
}

export function isUniqueViolation(err: unknown, constraint: string): boolean {
  return codeOf(err) === PgCode.uniqueViolation && (err as pg.DatabaseError).constraint === constraint;
}

export type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * Runs `fn` on one connection. Unlike `pool.query`, an SQL error (a unique violation on a
 * repeated send) keeps the connection; only a broken connection is thrown away.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    if (isUnavailable(err)) broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}

const statementNames = new Map<string, string>();

/**
 * A query config that runs `text` as a named prepared statement: parsed and planned once per
 * connection instead of on every call (a measurable share of a sub-millisecond append). The name
 * is derived from the text, so one text always has one name on every connection.
 */
export function prepared(text: string, values?: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (!name) {
    name = `rg_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: values ?? [] };
}

export function query<R extends pg.QueryResultRow>(pool: pg.Pool, text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
  return withClient(pool, (client) => client.query<R>(prepared(text, values)));
}

/** Runs `fn` inside BEGIN … COMMIT on one connection; any throw rolls back. */
export function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A failed ROLLBACK means the connection is gone; withClient then discards it.
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}
