// Group commit for `appendMessages`: one transaction, one lock per conversation, one duplicate
// lookup, one seq-range bump per conversation and one multi-row insert, whatever the batch size.
// Repeats are resolved before seqs are handed out, so they burn none.
import type pg from 'pg';
import type { Message } from '../../../protocol/index.js';
import { clientKey, firstOccurrences } from '../shared.js';
import { NotFoundStoreError, type AppendResult, type NewMessage } from '../store.js';
import { prepared } from './db.js';
import { toMessage, type MessageRow } from './rows.js';
import { APPEND_BATCH_STATEMENT, FIND_BY_CLIENT_IDS, INSERT_BATCH, LOCK_CONVERSATIONS } from './sql.js';


/** Runs inside a transaction on `client`; throws NotFoundStoreError (rolling back all) if any conversation is missing. */
export async function appendBatch(client: pg.PoolClient, inputs: NewMessage[]): Promise<AppendResult[]> {
  // The first occurrence of a key in the batch is the one stored; later ones are its repeats.
  const firstIndex = firstOccurrences(inputs);
  const unique = [...firstIndex.values()].map((i) => inputs[i]!);

  const conversationIds = [...new Set(unique.map((m) => m.conversationId))];
  const locked = await client.query<{ id: string; last_seq: number }>(prepared(LOCK_CONVERSATIONS, [conversationIds]));
  const lastSeq = new Map(locked.rows.map((r) => [r.id, r.last_seq]));
  const missing = conversationIds.filter((id) => !lastSeq.has(id));
  if (missing.length) throw new NotFoundStoreError(`conversation ${missing.join(', ')} not found`);

  const stored = new Map<string, Message>();
  const existing = await client.query<MessageRow>(
    prepared(FIND_BY_CLIENT_IDS, [unique.map((m) => m.conversationId), unique.map((m) => m.senderId), unique.map((m) => m.clientMsgId)]),
  );
  for (const row of existing.rows) {
    const message = toMessage(row);
    stored.set(clientKey(message), message);
  }
  const preexisting = new Set(stored.keys());

  const fresh = unique.filter((m) => !preexisting.has(clientKey(m)));
  if (fresh.length) {
    const seqs = fresh.map((m) => {
      const seq = lastSeq.get(m.conversationId)! + 1;
      lastSeq.set(m.conversationId, seq);
      return seq;
    });
    const bumped = [...new Set(fresh.map((m) => m.conversationId))];
    const { rows } = await client.query<MessageRow>(prepared(INSERT_BATCH, [
      bumped,
      bumped.map((id) => lastSeq.get(id)!),
      ...withSeqs(messageColumns(fresh), seqs),
    ]));
    for (const row of rows) {
      const message = toMessage(row);
      stored.set(clientKey(message), message);
    }
  }

  return inputs.map((m, i) => {
    const k = clientKey(m);
    return { message: stored.get(k)!, duplicate: preexisting.has(k) || firstIndex.get(k) !== i };
  });
}

/**
 * The batch in one statement (one round trip instead of five). Resolves with null when a key
 * was committed concurrently after the statement's snapshot (unique violation, nothing
 * written): the caller then runs `appendBatch` in a transaction, whose lookup follows the locks.
 */
export async function appendBatchInOneStatement(
  run: (config: pg.QueryConfig) => Promise<pg.QueryResult<MessageRow & { duplicate: boolean; locked: number }>>,
  inputs: NewMessage[],
  isRaceLost: (err: unknown) => boolean,
): Promise<AppendResult[] | null> {
  const firstIndex = firstOccurrences(inputs);
  const unique = [...firstIndex.values()].map((i) => inputs[i]!);
  const conversationIds = [...new Set(unique.map((m) => m.conversationId))];
  let rows: (MessageRow & { duplicate: boolean; locked: number })[];
  try {
    ({ rows } = await run(
      prepared(APPEND_BATCH_STATEMENT, [
        conversationIds,
        ...messageColumns(unique),
      ]),
    ));
  } catch (err) {
    if (isRaceLost(err)) return null;
    throw err;
  }
  // No row at all also means no conversation was found (nothing stored, nothing written).
  if ((rows[0]?.locked ?? 0) < conversationIds.length) throw new NotFoundStoreError('a conversation of the batch was not found');
  const stored = new Map<string, { message: Message; duplicate: boolean }>();
  for (const row of rows) {
    const message = toMessage(row);
    stored.set(clientKey(message), { message, duplicate: row.duplicate });
  }
  return inputs.map((m, i) => {
    const k = clientKey(m);
    const s = stored.get(k)!;
    return { message: s.message, duplicate: s.duplicate || firstIndex.get(k) !== i };
  });
}

/** The per-row arrays both batch statements take, in their order (unnest parameters). */
function messageColumns(messages: NewMessage[]): unknown[][] {
  return [
    messages.map((m) => m.conversationId),
    messages.map((m) => m.senderId),
    messages.map((m) => m.clientMsgId),
    messages.map((m) => m.kind),
    messages.map((m) => m.text ?? null),
    messages.map((m) => (m.attachment ? JSON.stringify(m.attachment) : null)),
    messages.map((m) => (m.system ? JSON.stringify(m.system) : null)),
    messages.map((m) => m.senderSeen === true),
  ];
}

/** INSERT_BATCH takes the computed seqs right after the conversation ids. */
function withSeqs([conversationIds, ...rest]: unknown[][], seqs: number[]): unknown[][] {
  return [conversationIds!, seqs, ...rest];
}
