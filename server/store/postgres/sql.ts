// The adapter's SQL, parameterised throughout. Exported so the storage benchmark can EXPLAIN
// exactly what the store runs. Each statement that must be atomic is a single statement (an
// implicit transaction) unless it needs to see rows committed while it waited for a lock.
import { UNREAD_CAP } from '../shared.js';
import { CONVERSATION_COLUMNS, MEMBERSHIP_COLUMNS, MESSAGE_COLUMNS } from './rows.js';

import { MAX_SEQ } from './page-sql.js';

export { MAX_SEQ };

// $1 id, $2 type, $3 title, $4 created_by, $5 public, $6 direct_key, $7 user ids, $8 roles.
// For a direct pair that exists already the insert does nothing (after waiting for a concurrent
// creator to commit) and no memberships are written; the caller then reads the existing one.
export const CREATE_CONVERSATION = `
WITH c AS (
  INSERT INTO conversations (id, type, title, created_by, public, direct_key)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (direct_key) DO NOTHING
  RETURNING ${CONVERSATION_COLUMNS}
), m AS (
  INSERT INTO memberships (conversation_id, user_id, role, joined_seq, delivered_seq, read_seq)
  SELECT c.id, u.user_id, u.role, 0, 0, 0 FROM c, unnest($7::text[], $8::text[]) AS u(user_id, role)
)
SELECT * FROM c`;

export const GET_CONVERSATION_BY_DIRECT_KEY = `SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE direct_key = $1`;
export const GET_CONVERSATION = `SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE id = $1`;

export const GET_MEMBERSHIP = `
SELECT ${MEMBERSHIP_COLUMNS} FROM memberships
WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL`;

export const LIST_PERIODS = `
SELECT joined_seq, left_seq FROM memberships
WHERE conversation_id = $1 AND user_id = $2
ORDER BY joined_seq, id`;

// A reader's periods nearest its page, for history over many leave/rejoin cycles (PeriodRange).
// Oldest first from the period holding $3 (found by one index probe, so earlier periods are not
// read), or newest first of those that can hold a seq below $3; $4 limit. Both are ranges of memberships_periods_idx.
export const LIST_PERIODS_AFTER = `
SELECT joined_seq, left_seq FROM memberships
WHERE conversation_id = $1 AND user_id = $2
  AND joined_seq >= COALESCE((SELECT max(joined_seq) FROM memberships
                              WHERE conversation_id = $1 AND user_id = $2 AND joined_seq <= $3), 0)
  AND (left_seq IS NULL OR left_seq > $3)
ORDER BY joined_seq, id
LIMIT $4`;
export const LIST_PERIODS_BEFORE = `
SELECT joined_seq, left_seq FROM memberships
WHERE conversation_id = $1 AND user_id = $2 AND joined_seq < $3::bigint - 1
ORDER BY joined_seq DESC, id DESC
LIMIT $4`;

export const COUNT_MEMBERS = `SELECT count(*) AS n FROM memberships WHERE conversation_id = $1 AND left_seq IS NULL`;

// $1 conversation, $2 last user id of the previous page ('' for the first: user ids are never
// empty), $3 limit. A plain `>` keeps the keyset an index condition in the prepared plan.
export const LIST_MEMBERS = `
SELECT ${MEMBERSHIP_COLUMNS.replace(/(\w+)/g, 'm.$1')}, COALESCE(s.read_receipts, true) AS read_receipts
FROM memberships m
LEFT JOIN user_settings s ON s.user_id = m.user_id
WHERE m.conversation_id = $1 AND m.left_seq IS NULL AND m.user_id > $2
ORDER BY m.user_id
LIMIT $3`;

// $1 user, $2 limit (null: all). Most recently active first, so a socket that may join only so
// many rooms joins the conversations that are live (one index range, then a top-N sort).
export const LIST_CONVERSATION_IDS = `
SELECT m.conversation_id FROM memberships m
JOIN conversations c ON c.id = m.conversation_id
WHERE m.user_id = $1 AND m.left_seq IS NULL
ORDER BY c.last_activity_at DESC, c.id DESC
LIMIT $2`;

// $1 user ids, $2 limit per user: LIST_CONVERSATION_IDS of each, in order, one row per user.
export const LIST_CONVERSATION_IDS_OF_USERS = `SELECT ARRAY(${LIST_CONVERSATION_IDS.replace('$1', 'u.user_id')}) AS ids
FROM unnest($1::text[]) WITH ORDINALITY AS u(user_id, i) ORDER BY u.i`;

const LAST_MESSAGE_COLUMNS = MESSAGE_COLUMNS.split(', ')
  .map((c) => `lm.${c} AS lm_${c}`)
  .join(', ');

// $1 user, $2/$3 keyset (activity in µs since the epoch, id) of the previous page's last row or
// null, $4 limit. The page is chosen first from the user's open memberships (one index range,
// then a top-N sort of ~1,000 rows for a heavy user); unread counts and last messages are then
// computed for the page rows only, each with index ranges on messages_pkey.
export const LIST_CONVERSATIONS = `
WITH page AS (
  SELECT ${CONVERSATION_COLUMNS.replace(/(\w+)/g, 'c.$1')}, c.last_activity_at, m.role, m.read_seq
  FROM memberships m
  JOIN conversations c ON c.id = m.conversation_id
  WHERE m.user_id = $1 AND m.left_seq IS NULL
    AND ($2::bigint IS NULL
         OR (c.last_activity_at, c.id) < (timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3::text))
  ORDER BY c.last_activity_at DESC, c.id DESC
  LIMIT $4
)
SELECT page.*,
  (extract(epoch FROM page.last_activity_at) * 1000000)::bigint AS activity_us,
  (SELECT count(*) FROM (
     SELECT 1 FROM messages x
     WHERE x.conversation_id = page.id AND x.seq > page.read_seq AND x.kind <> 'system' AND x.sender_id <> $1
     LIMIT ${UNREAD_CAP}) u) AS unread,
  ${LAST_MESSAGE_COLUMNS}
FROM page
LEFT JOIN LATERAL (
  SELECT x.* FROM memberships p
  CROSS JOIN LATERAL (
    SELECT ${MESSAGE_COLUMNS} FROM messages x
    WHERE x.conversation_id = p.conversation_id
      AND x.seq > p.joined_seq AND x.seq <= COALESCE(p.left_seq, ${MAX_SEQ})
    ORDER BY x.seq DESC LIMIT 1) x
  WHERE p.conversation_id = page.id AND p.user_id = $1
  ORDER BY x.seq DESC LIMIT 1
) lm ON true
ORDER BY page.last_activity_at DESC, page.id DESC`;

// $1 conversation, $2 user ids, $3 roles. The row lock on the conversation orders this against
// appends (which update that row), so joined_seq is exactly the last seq committed before.
export const ADD_MEMBERS = `
WITH c AS (SELECT id, last_seq FROM conversations WHERE id = $1 FOR UPDATE)
INSERT INTO memberships (conversation_id, user_id, role, joined_seq, delivered_seq, read_seq)
SELECT c.id, u.user_id, u.role, c.last_seq, c.last_seq, c.last_seq
FROM c, unnest($2::text[], $3::text[]) AS u(user_id, role)
ON CONFLICT (conversation_id, user_id) WHERE left_seq IS NULL DO NOTHING
RETURNING user_id`;

export const CONVERSATION_EXISTS = `SELECT 1 FROM conversations WHERE id = $1`;

// Same lock as ADD_MEMBERS, so left_seq is the last seq committed before the removal.
export const REMOVE_MEMBER = `
WITH c AS (SELECT id, last_seq FROM conversations WHERE id = $1 FOR UPDATE)
UPDATE memberships m SET left_seq = c.last_seq, left_at = now()
FROM c
WHERE m.conversation_id = c.id AND m.user_id = $2 AND m.left_seq IS NULL`;

export const SET_ROLE = `
UPDATE memberships SET role = $3
WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL`;

/**
 * A CTE `seen` moving each sender's delivered and read watermarks forward to the highest seq
 * of `rows` (conversation_id, sender_id, seq): the sender has seen what they sent, written with
 * the append instead of as a statement of its own. Only the open membership moves.
 */
const SENDER_SEEN = (rows: string) => `seen AS (
  UPDATE memberships m
  SET delivered_seq = GREATEST(m.delivered_seq, s.seq), read_seq = GREATEST(m.read_seq, s.seq)
  FROM (SELECT conversation_id, sender_id, max(seq) AS seq FROM (${rows}) r GROUP BY conversation_id, sender_id) s
  WHERE m.conversation_id = s.conversation_id AND m.user_id = s.sender_id AND m.left_seq IS NULL
)`;

// $1 conversation, $2 sender, $3 client_msg_id, $4 kind, $5 text, $6 attachment, $7 system.
// One statement: the seq bump and the insert commit or vanish together. A repeated
// client_msg_id fails the insert with a unique violation, which undoes the bump too (no gap,
// no activity change); the caller then reads the original. A concurrent repeat waits on the
// conversation row lock, so by the time its insert runs the first one has committed.
// $8: the sender has seen it (move the sender's watermarks in the same statement).
export const APPEND_MESSAGE = `
WITH c AS (
  UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = now()
  WHERE id = $1
  RETURNING id, last_seq
), ins AS (
  INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, text, attachment, system)
  SELECT c.id, c.last_seq, $2, $3, $4, $5, $6::jsonb, $7::jsonb FROM c
  RETURNING ${MESSAGE_COLUMNS}
), ${SENDER_SEEN('SELECT conversation_id, sender_id, seq FROM ins WHERE $8::boolean')}
SELECT * FROM ins`;

// Batch append, step 1 (in a transaction): lock every conversation of the batch in id order, so
// two batches never deadlock and single appends to these conversations wait for the commit.
export const LOCK_CONVERSATIONS = `
SELECT id, last_seq FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`;

// Step 2: which keys are taken already. Runs after the locks, so it sees every append that
// committed to these conversations before them.
export const FIND_BY_CLIENT_IDS = `
SELECT ${MESSAGE_COLUMNS.replace(/(\w+)/g, 'x.$1')}
FROM unnest($1::text[], $2::text[], $3::text[]) AS k(conversation_id, sender_id, client_msg_id)
JOIN messages x
  ON x.conversation_id = k.conversation_id AND x.sender_id = k.sender_id AND x.client_msg_id = k.client_msg_id`;

// Step 3: one seq-range bump per conversation and one multi-row insert with seqs computed by
// the caller from the locked last_seq values.
// $11: per row, whether the sender has seen it (the senders' watermarks move in the same statement).
export const INSERT_BATCH = `
WITH bump AS (
  UPDATE conversations c SET last_seq = b.last_seq, last_activity_at = now()
  FROM unnest($1::text[], $2::bigint[]) AS b(id, last_seq)
  WHERE c.id = b.id
), v AS (
  SELECT * FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::boolean[])
    AS v(conversation_id, seq, sender_id, client_msg_id, kind, text, attachment, system, seen)
), ins AS (
  INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, text, attachment, system)
  SELECT conversation_id, seq, sender_id, client_msg_id, kind, text, attachment::jsonb, system::jsonb FROM v
  RETURNING ${MESSAGE_COLUMNS}
), ${SENDER_SEEN('SELECT conversation_id, sender_id, seq FROM v WHERE seen')}
SELECT * FROM ins`;

/**
 * The whole batch append in ONE statement (one round trip, no explicit transaction): lock the
 * batch's conversations in id order, find the keys stored already, number the rest from each
 * locked last_seq, bump, insert, and move the senders' watermarks. $1 the distinct conversation
 * ids; then per row (first occurrences only): $2 conversation, $3 sender, $4 client_msg_id,
 * $5 kind, $6 text, $7 attachment, $8 system, $9 seen. If any conversation is missing nothing
 * is written (`fresh` is empty) and the caller sees locked < $1's length. A key committed by
 * another transaction after this statement's snapshot fails the insert (unique violation) and
 * the caller falls back to the transaction below, whose lookup runs after the locks.
 */
export const APPEND_BATCH_STATEMENT = `
WITH locked AS (
  SELECT id, last_seq FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE
), v AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[])
    WITH ORDINALITY AS v(conversation_id, sender_id, client_msg_id, kind, text, attachment, system, sender_seen, ord)
), existing AS (
  SELECT ${MESSAGE_COLUMNS.replace(/(\w+)/g, 'm.$1')}
  FROM v JOIN messages m ON m.conversation_id = v.conversation_id AND m.sender_id = v.sender_id AND m.client_msg_id = v.client_msg_id
), fresh AS (
  SELECT v.*, l.last_seq + row_number() OVER (PARTITION BY v.conversation_id ORDER BY v.ord) AS seq
  FROM v JOIN locked l ON l.id = v.conversation_id
  WHERE (SELECT count(*) FROM locked) = cardinality($1::text[])
    AND NOT EXISTS (SELECT 1 FROM existing e WHERE e.conversation_id = v.conversation_id AND e.sender_id = v.sender_id AND e.client_msg_id = v.client_msg_id)
), bump AS (
  UPDATE conversations c SET last_seq = f.top, last_activity_at = now()
  FROM (SELECT conversation_id, max(seq) AS top FROM fresh GROUP BY conversation_id) f
  WHERE c.id = f.conversation_id
), ins AS (
  INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, text, attachment, system)
  SELECT conversation_id, seq, sender_id, client_msg_id, kind, text, attachment::jsonb, system::jsonb FROM fresh
  RETURNING ${MESSAGE_COLUMNS}
), ${SENDER_SEEN('SELECT conversation_id, sender_id, seq FROM fresh WHERE sender_seen')}
SELECT *, false AS duplicate, (SELECT count(*) FROM locked)::int AS locked FROM ins
UNION ALL
SELECT *, true AS duplicate, (SELECT count(*) FROM locked)::int AS locked FROM existing`;

export const GET_MESSAGE = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq = $2`;
export const GET_MESSAGE_BY_CLIENT_ID = `
SELECT ${MESSAGE_COLUMNS} FROM messages
WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3`;

export { pageMessagesQuery } from './page-sql.js';

// $1 conversation ids, $2 user ids, $3 types, $4 seqs (one entry per update). Several updates
// of one membership collapse to their maximum; rows are locked in id order (no deadlock between
// two batches) and returned with their values from before, so the caller can tell which
// individual update moved. Non-members and updates that move nothing return no row.
export const ADVANCE_WATERMARKS = `
WITH req AS (
  SELECT conversation_id, user_id,
         max(seq) FILTER (WHERE type = 'delivered') AS delivered,
         max(seq) FILTER (WHERE type = 'read') AS read
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS r(conversation_id, user_id, type, seq)
  GROUP BY conversation_id, user_id
), cur AS (
  SELECT m.id, m.conversation_id, m.user_id, m.delivered_seq, m.read_seq, c.last_seq,
         -- LEAST ignores NULL, so a type absent from the request must stay NULL explicitly.
         CASE WHEN req.delivered IS NOT NULL THEN LEAST(req.delivered, c.last_seq) END AS delivered_to,
         CASE WHEN req.read IS NOT NULL THEN LEAST(req.read, c.last_seq) END AS read_to
  FROM req
  JOIN memberships m ON m.conversation_id = req.conversation_id AND m.user_id = req.user_id AND m.left_seq IS NULL
  JOIN conversations c ON c.id = req.conversation_id
  ORDER BY m.id
  FOR UPDATE OF m
)
UPDATE memberships m
SET delivered_seq = GREATEST(cur.delivered_seq, COALESCE(cur.delivered_to, 0)),
    read_seq = GREATEST(cur.read_seq, COALESCE(cur.read_to, 0))
FROM cur
WHERE m.id = cur.id AND (cur.delivered_to > cur.delivered_seq OR cur.read_to > cur.read_seq)
RETURNING cur.conversation_id, cur.user_id, cur.delivered_seq AS old_delivered, cur.read_seq AS old_read, cur.last_seq`;

export const GET_READ_RECEIPTS = `SELECT read_receipts FROM user_settings WHERE user_id = $1`;
export const SET_READ_RECEIPTS = `
INSERT INTO user_settings (user_id, read_receipts) VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET read_receipts = EXCLUDED.read_receipts, updated_at = now()`;

// Point reads of many callers at once (point-reads.ts): $1 ids; $1, $2 conversation and user ids, pairwise.
export const GET_CONVERSATIONS = `SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE id = ANY($1::text[] COLLATE "C")`;

export const GET_MEMBERSHIPS = `
SELECT ${MEMBERSHIP_COLUMNS.replace(/(\w+)/g, 'm.$1')} FROM unnest($1::text[], $2::text[]) AS k(c, u)
JOIN memberships m ON m.conversation_id = k.c COLLATE "C" AND m.user_id = k.u COLLATE "C" AND m.left_seq IS NULL`;
