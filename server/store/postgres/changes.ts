// Edits, deletions and reactions in PostgreSQL (PROTOCOL.md §9). A change runs in one
// transaction that first locks the conversation row, the same lock appends take, so the seq it
// takes and its write commit together and in seq order with the appends around it: a sync that
// sees a later seq also sees this change. A no-op rolls back and takes no seq.
import type pg from 'pg';
import type { ChangePageQuery, ChangeResult, MessageChange } from '../store.js';
import { MESSAGE_COLUMNS, parseMessageId, toMessage, type MessageRow } from './rows.js';

const LOCK_CONVERSATION = `SELECT last_seq FROM conversations WHERE id = $1 FOR UPDATE`;
const GET_MESSAGE = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq = $2`;
const BUMP = `UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq`;

// $1 conversation, $2 seq, $3 updated_seq, $4 text.
const EDIT = `
UPDATE messages SET text = $4, edited_at = now(), updated_seq = $3
WHERE conversation_id = $1 AND seq = $2 RETURNING ${MESSAGE_COLUMNS}`;

// The text, the attachment and who reacted are gone from the row and the table for good.
const DELETE = `
WITH gone AS (DELETE FROM message_reactions WHERE conversation_id = $1 AND seq = $2)
UPDATE messages SET text = NULL, attachment = NULL, reactions = NULL, deleted_at = now(), updated_seq = $3
WHERE conversation_id = $1 AND seq = $2 RETURNING ${MESSAGE_COLUMNS}`;

const REACT_ON = `
INSERT INTO message_reactions (conversation_id, seq, user_id, emoji) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`;
const REACT_OFF = `DELETE FROM message_reactions WHERE conversation_id = $1 AND seq = $2 AND user_id = $3 AND emoji = $4`;
// Counts after the insert or delete above (same transaction), in a stable order.
const RECOUNT = `
UPDATE messages SET updated_seq = $3, reactions = (
  SELECT jsonb_agg(jsonb_build_object('emoji', emoji, 'count', n) ORDER BY emoji)
  FROM (SELECT emoji, count(*)::int AS n FROM message_reactions WHERE conversation_id = $1 AND seq = $2 GROUP BY emoji) r)
WHERE conversation_id = $1 AND seq = $2 RETURNING ${MESSAGE_COLUMNS}`;

type Tx = <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

/** Thrown inside the transaction to roll a no-op back; never leaves this module. */
class NoChange {
  constructor(readonly result: ChangeResult | null) {}
}

export async function changeMessage(transaction: Tx, change: MessageChange): Promise<ChangeResult | null> {
  const key = parseMessageId(change.messageId);
  if (!key || key.conversationId !== change.conversationId) return null;
  try {
    return await transaction(async (client) => {
      const locked = await client.query(LOCK_CONVERSATION, [key.conversationId]);
      if (locked.rowCount === 0) throw new NoChange(null);
      const { rows } = await client.query<MessageRow>(GET_MESSAGE, [key.conversationId, key.seq]);
      if (!rows[0]) throw new NoChange(null);
      const current = toMessage(rows[0]);
      const unchanged = new NoChange({ message: current, changed: false });
      if (current.deletedAt !== undefined) throw unchanged;
      if (change.type === 'edit' && current.text === change.text) throw unchanged;
      if (change.type === 'react') {
        const sql = change.on ? REACT_ON : REACT_OFF;
        const done = await client.query(sql, [key.conversationId, key.seq, change.userId, change.emoji]);
        if (done.rowCount === 0) throw unchanged;
      }
      const bumped = await client.query<{ last_seq: number }>(BUMP, [key.conversationId]);
      const updatedSeq = bumped.rows[0]!.last_seq;
      const args = [key.conversationId, key.seq, updatedSeq];
      const write =
        change.type === 'edit'
          ? client.query<MessageRow>(EDIT, [...args, change.text])
          : client.query<MessageRow>(change.type === 'delete' ? DELETE : RECOUNT, args);
      return { message: toMessage((await write).rows[0]!), changed: true };
    });
  } catch (err) {
    if (err instanceof NoChange) return err.result;
    throw err;
  }
}

// $1 conversation, $2 after, $3 reader, $4 limit. Each changed message (messages_changes_idx)
// is checked against the one period that can hold it: the reader's latest period starting below
// its seq (one probe of memberships_periods_idx for the max, one for its rows: a leave and rejoin
// with no message between share a joined_seq). Periods are ordered and disjoint, so no earlier
// one can hold it; the reader's other periods are never read (PROTOCOL.md §7).
export const PAGE_CHANGES = `
SELECT ${MESSAGE_COLUMNS} FROM messages m
WHERE m.conversation_id = $1 AND m.updated_seq > $2
  AND EXISTS (
    SELECT 1 FROM memberships p
    WHERE p.conversation_id = $1 AND p.user_id = $3
      AND p.joined_seq = (SELECT max(joined_seq) FROM memberships
                          WHERE conversation_id = $1 AND user_id = $3 AND joined_seq < m.seq)
      AND (p.left_seq IS NULL OR p.left_seq >= m.seq))
ORDER BY m.updated_seq LIMIT $4`;

/** pageChanges as one statement and its parameters; null when nothing can match. */
export function pageChangesQuery(q: ChangePageQuery): [string, unknown[]] | null {
  if (!(q.limit > 0)) return null;
  return [PAGE_CHANGES, [q.conversationId, q.after, q.userId, Math.floor(q.limit)]];
}
