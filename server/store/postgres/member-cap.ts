// The cap on a user's open memberships (PROTOCOL.md §7), exact under concurrency: every write
// that opens periods under a cap first takes a transaction-scoped advisory lock per user (in
// sorted order, so two adds never deadlock), then counts, then inserts in the same transaction.
// Two adds of one user at 9,999 conversations therefore run one after the other and the second
// sees 10,000. Writes without a cap (none in the product) take no lock.
import type pg from 'pg';
import { ConflictStoreError } from '../store.js';
import { prepared, transaction } from './db.js';

const LOCK_USERS = `
SELECT pg_advisory_xact_lock(hashtextextended('open-memberships:' || u, 0))
FROM (SELECT DISTINCT u FROM unnest($1::text[]) AS u ORDER BY u) s`;

// Users at the cap who are not already members of $3 (for them the add is a no-op). Served by
// the partial index memberships_user_open_idx (index-only, ~cap entries per user at most).
const USERS_AT_CAP = `
SELECT user_id FROM memberships
WHERE user_id = ANY($1::text[]) AND left_seq IS NULL
GROUP BY user_id
HAVING count(*) >= $2 AND NOT bool_or(conversation_id = $3)`;

/**
 * Runs `insert` on a transaction in which none of `userIds` can gain an open membership
 * elsewhere, after checking that none of them (except members of `conversationId` already)
 * holds `cap` open ones; throws ConflictStoreError naming those who do.
 */
export function underMemberCap<T>(
  pool: pg.Pool,
  userIds: string[],
  conversationId: string,
  cap: number,
  insert: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return transaction(pool, async (client) => {
    await client.query(prepared(LOCK_USERS, [userIds]));
    const { rows } = await client.query<{ user_id: string }>(prepared(USERS_AT_CAP, [userIds, cap, conversationId]));
    if (rows.length > 0) {
      const full = rows.map((r) => r.user_id);
      throw new ConflictStoreError(`${full.length} user(s) are in ${cap} conversations already`, full);
    }
    return insert(client);
  });
}
