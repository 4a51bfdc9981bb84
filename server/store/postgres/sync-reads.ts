// The reads a reconnect storm repeats after the membership check (point-reads.ts), coalesced:
// every client's `conversation:sync` reads its change page (pageChanges), the periods after its
// cursor (listPeriods with `after`) and the message page over them (pageMessages; one range in
// the usual case of a reader who never left). Calls made while batches are running leave
// together as one statement per batch: the single-call statement itself, run once per call in a
// LATERAL over `unnest` of the calls' parameters, so each call gets the rows, order and limit
// its own statement gives. An idle store still sends each call at once (server/coalesce.ts).
// Calls whose numbers are not non-negative integers go alone, so a bad one cannot fail a batch.
import type pg from 'pg';
import type { Message } from '../../../protocol/index.js';
import { createCoalescer, SOCKET_RESUME_CHUNK } from '../../coalesce.js';
import type { ChangePageQuery, MessagePageQuery, Period } from '../store.js';
import { PAGE_CHANGES, pageChangesQuery } from './changes.js';
import { PAGE_ONE_ASC, pageMessagesQuery } from './page-sql.js';
import { IN_FLIGHT, MAX_BATCH, type Run } from './point-reads.js';
import { toMessage, type MessageRow } from './rows.js';
import * as SQL from './sql.js';

type Statement = [string, unknown[]];

/**
 * `single` run once per call: its `$k` become column k of the calls' parameter arrays (text
 * parameters in the "C" collation of the id columns, so the indexes apply). Rows come back
 * grouped by call (`batch_i`, from 1) and, within a call, in `order` (the single statement's).
 */
export function batchedStatement(single: string, types: readonly ('text' | 'bigint')[], order: string): string {
  const names = types.map((_, k) => `p${k + 1}`);
  const inner = single.replace(/\$(\d+)(?!\d)/g, (_, n: string) => `r.${names[Number(n) - 1]!}`);
  const cols = names.map((n, k) => (types[k] === 'text' ? `x.${n} COLLATE "C" AS ${n}` : `x.${n}`)).join(', ');
  const arrays = types.map((t, k) => `$${k + 1}::${t}[]`).join(', ');
  return `
SELECT r.i AS batch_i, page.*
FROM (SELECT ${cols}, x.i FROM unnest(${arrays}) WITH ORDINALITY AS x(${names.join(', ')}, i)) r
CROSS JOIN LATERAL (${inner}) page
ORDER BY r.i, ${order}`;
}

// LIST_PERIODS_AFTER with the membership id, the tie-break of its order, in the output.
const PERIODS_AFTER_WITH_ID = SQL.LIST_PERIODS_AFTER.replace('SELECT joined_seq, left_seq FROM', 'SELECT joined_seq, left_seq, id FROM');
if (PERIODS_AFTER_WITH_ID === SQL.LIST_PERIODS_AFTER) throw new Error('LIST_PERIODS_AFTER changed: update sync-reads.ts');

export const BATCHED = Object.freeze({
  // $1 conversation, $2 after, $3 reader, $4 limit (changes.ts).
  changes: batchedStatement(PAGE_CHANGES, ['text', 'bigint', 'text', 'bigint'], 'page.updated_seq'),
  // $1 conversation, $2 reader, $3 after, $4 limit.
  periodsAfter: batchedStatement(PERIODS_AFTER_WITH_ID, ['text', 'text', 'bigint', 'bigint'], 'page.joined_seq, page.id'),
  // $1 conversation, $2 limit, $3/$4 the range's lo/hi (page-sql.ts).
  pageOneAsc: batchedStatement(PAGE_ONE_ASC, ['text', 'bigint', 'bigint', 'bigint'], 'page.seq'),
});

// Seqs and limits are never negative in a valid call (a negative LIMIT is an error in PostgreSQL).
const plain = (values: unknown[]): boolean => values.every((v) => typeof v === 'string' || (Number.isSafeInteger(v) && (v as number) >= 0));

/** One coalescer of calls of the statement `single`, answered by `batched` per batch. */
function lateralReads<R extends pg.QueryResultRow, T>(run: Run, single: string, batched: string, map: (row: R) => T) {
  const coalescer = createCoalescer(
    async (calls: unknown[][]): Promise<T[][]> => {
      const columns = calls[0]!.map((_, k) => calls.map((values) => values[k]));
      const { rows } = await run<R & { batch_i: number }>(batched, columns);
      const out = calls.map((): T[] => []);
      for (const row of rows) out[row.batch_i - 1]!.push(map(row));
      return out;
    },
    { maxBatch: MAX_BATCH, maxInFlight: IN_FLIGHT, resumeChunk: SOCKET_RESUME_CHUNK },
  );
  /** Batched when it is `single` with plain values, else alone. */
  return async ([text, values]: Statement): Promise<T[]> => {
    if (text === single && plain(values)) return coalescer.submit(values);
    const { rows } = await run<R>(text, values);
    return rows.map(map);
  };
}

export function createSyncReads(run: Run) {
  const changes = lateralReads(run, PAGE_CHANGES, BATCHED.changes, (r: MessageRow) => toMessage(r));
  const pages = lateralReads(run, PAGE_ONE_ASC, BATCHED.pageOneAsc, (r: MessageRow) => toMessage(r));
  const periods = lateralReads(run, SQL.LIST_PERIODS_AFTER, BATCHED.periodsAfter, (r: { joined_seq: number; left_seq: number | null }): Period => ({
    afterSeq: r.joined_seq,
    untilSeq: r.left_seq,
  }));
  return {
    pageChanges(q: ChangePageQuery): Promise<Message[]> {
      const page = pageChangesQuery(q);
      return page ? changes(page) : Promise.resolve([]);
    },
    pageMessages(q: MessagePageQuery): Promise<Message[]> {
      const page = pageMessagesQuery(q);
      return page ? pages(page) : Promise.resolve([]);
    },
    /** Periods after `after` (PeriodRange), oldest first, at most `limit`. */
    periodsAfter(conversationId: string, userId: string, after: number, limit: number): Promise<Period[]> {
      return periods([SQL.LIST_PERIODS_AFTER, [conversationId, userId, after, limit]]);
    },
  };
}
