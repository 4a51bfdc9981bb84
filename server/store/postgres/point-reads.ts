// The point reads a reconnect storm repeats, coalesced: every client that reconnects syncs its
// conversations, and each sync first checks membership (getConversation + getMembership, two
// queries). Calls made while batches are running leave together as one query per batch (`= ANY`
// over the ids, `unnest` over the pairs), and callers asking for the same row share its read; a
// call never takes the result of a read that started before it, and an idle store still sends
// each call at once (server/coalesce.ts), so this trades nothing but a wait for a free slot.
import type pg from 'pg';
import type { Conversation, Membership } from '../../../protocol/index.js';
import { createCoalescer, SOCKET_RESUME_CHUNK } from '../../coalesce.js';
import { toConversation, toMembership, type ConversationRow, type MembershipRow } from './rows.js';
import * as SQL from './sql.js';

/** Runs one statement on the store's pool. */
export type Run = <R extends pg.QueryResultRow>(text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

/** Batches at once per kind of read: leaves most of the pool (10) to everything else. */
export const IN_FLIGHT = 2;
export const MAX_BATCH = 500;

export function createPointReads(run: Run) {
  const conversations = createCoalescer(
    async (ids: string[]): Promise<(Conversation | null)[]> => {
      const { rows } = await run<ConversationRow>(SQL.GET_CONVERSATIONS, [[...new Set(ids)]]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      // A fresh object per caller: callers may not share what they could change.
      return ids.map((id) => {
        const row = byId.get(id);
        return row ? toConversation(row) : null;
      });
    },
    { maxBatch: MAX_BATCH, maxInFlight: IN_FLIGHT, resumeChunk: SOCKET_RESUME_CHUNK },
  );
  const memberships = createCoalescer(
    async (keys: [string, string][]): Promise<(Membership | null)[]> => {
      const unique = [...new Map(keys.map((k) => [`${k[0]}\u0000${k[1]}`, k])).values()];
      const { rows } = await run<MembershipRow>(SQL.GET_MEMBERSHIPS, [unique.map((k) => k[0]), unique.map((k) => k[1])]);
      const byKey = new Map(rows.map((r) => [`${r.conversation_id}\u0000${r.user_id}`, r]));
      return keys.map(([c, u]) => {
        const row = byKey.get(`${c}\u0000${u}`);
        return row ? toMembership(row) : null;
      });
    },
    { maxBatch: MAX_BATCH, maxInFlight: IN_FLIGHT, resumeChunk: SOCKET_RESUME_CHUNK },
  );
  return {
    conversation: (id: string) => conversations.submit(id),
    membership: (conversationId: string, userId: string) => memberships.submit([conversationId, userId]),
  };
}
