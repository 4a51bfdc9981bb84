// Schema set-up at start: create the database when it is missing, then apply the versions of
// migrations.ts that are not yet recorded, all under one advisory lock so that several nodes
// starting at the same moment apply each version exactly once.
import pg from 'pg';
import { MIGRATIONS, type Migration } from './migrations.js';
import { codeOf, PgCode, POOL_DEFAULTS, transaction } from './db.js';

// Any constant shared by every node; the lock lives per database, so other apps are unaffected.
const MIGRATION_LOCK_KEY = 0x7267_6174; // "rgat"

/**
 * Creates the database named in `url` if it does not exist, through the `postgres` database of
 * the same server. Losing the race to another node doing the same is fine.
 */
export async function ensureDatabase(url: string, probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return false;
  } catch (err) {
    if (codeOf(err) !== PgCode.invalidCatalogName) throw err;
  }
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({
    connectionString: admin.toString(),
    connectionTimeoutMillis: POOL_DEFAULTS.connectionTimeoutMs,
  });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    return true;
  } catch (err) {
    // 42P04 when the other node committed first; 23505 (pg_database_datname_index) when both
    // inserted the catalog row at the same moment.
    if (codeOf(err) === PgCode.duplicateDatabase || codeOf(err) === PgCode.uniqueViolation) return false;
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Applies pending migrations in version order; returns the versions this call applied. */
export function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return transaction(pool, async (client) => {
    // Waiting for another node's migration, or building an index on a big table, may take
    // longer than the per-statement limit meant for request traffic.
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    // Versions newer than this build (a newer node of a rolling deploy ran first) are left alone.
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
