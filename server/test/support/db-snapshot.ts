// A digest of every mutable row of a PostgreSQL test database, so a test can assert that a
// refused request changed nothing.
import type pg from 'pg';

export async function snapshot(db: pg.Client): Promise<string> {
  const { rows } = await db.query(`
    SELECT (SELECT count(*) FROM conversations) AS conversations,
           (SELECT count(*) FROM messages) AS messages,
           (SELECT count(*) FROM memberships) AS memberships,
           (SELECT coalesce(sum(last_seq), 0) FROM conversations) AS seqs,
           (SELECT string_agg(role || delivered_seq || ':' || read_seq || coalesce(left_seq::text, '-'), ',' ORDER BY id) FROM memberships) AS receipts,
           (SELECT string_agg(user_id || read_receipts::text, ',' ORDER BY user_id) FROM user_settings) AS settings`);
  return JSON.stringify(rows[0]);
}
