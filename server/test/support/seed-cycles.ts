// Leave/rejoin cycles written straight into PostgreSQL (the layout of SeedCycles in
// server/store/cycles.contract.ts): 1,000 cycles through the store port take tens of seconds.
import pg from 'pg';
import type { SeedCycles } from '../../store/cycles.contract.js';

export async function seedPostgresCycles(url: string, { conversationId, owner, cycler, cycles }: Parameters<SeedCycles>[0]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, text)
       SELECT $1, s, $2, 'seed' || s, 'text', 'm' || s FROM generate_series(1, $3::int) s`,
      [conversationId, owner, 2 * cycles],
    );
    await client.query('UPDATE conversations SET last_seq = $2 WHERE id = $1', [conversationId, 2 * cycles]);
    await client.query('DELETE FROM memberships WHERE conversation_id = $1 AND user_id = $2', [conversationId, cycler]);
    await client.query(
      `INSERT INTO memberships (conversation_id, user_id, role, joined_seq, left_seq, left_at, delivered_seq, read_seq)
       SELECT $1, $2, 'member', 2 * i, CASE WHEN i < $3 - 1 THEN 2 * i + 1 END, CASE WHEN i < $3 - 1 THEN now() END, 2 * i, 2 * i
       FROM generate_series(0, $3::int - 1) i`,
      [conversationId, cycler, cycles],
    );
    await client.query('ANALYZE memberships; ANALYZE messages');
  } finally {
    await client.end();
  }
}
